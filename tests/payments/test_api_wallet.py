"""/api/v1/wallet/: the balance, its ledger, deposits and withdrawals."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gateways.card.simulator import cards
from payments.models import LedgerEntry, Payment, PaymentKind, PaymentStatus
from payments.services import balance_credit
from tests.factories import UserFactory
from tests.payments.test_api import card

pytestmark = pytest.mark.django_db


def test_the_wallet_shows_the_callers_balance_as_a_string(customer, api_client_for):
    balance_credit(
        user_id=customer.pk, amount=Decimal("250.50"), currency="TWD", entry_type="deposit"
    )

    response = api_client_for(customer).get("/api/v1/wallet/")

    assert response.json() == {"balance": "250.50", "currency": "TWD"}


def test_a_card_deposit_tops_up_the_balance_once_paid(
    customer, api_client_for, card_provider, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(customer).post(
            "/api/v1/wallet/deposits/",
            {"amount": "300", "currency": "TWD", "card": card()},
            format="json",
        )

    assert response.status_code == 202, response.json()
    assert (response.json()["kind"], response.json()["order"]) == ("deposit", None)
    customer.refresh_from_db()
    assert customer.balance == Decimal("300")
    entries = api_client_for(customer).get("/api/v1/wallet/entries/").json()["results"]
    assert entries == [
        {
            "entry_type": "deposit",
            "amount": "300.00",
            "currency": "TWD",
            "balance_after": "300.00",
            "payment": response.json()["id"],
            "created_at": entries[0]["created_at"],
        }
    ]


def test_a_declined_deposit_leaves_the_balance_alone(
    customer, api_client_for, card_provider, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(customer).post(
            "/api/v1/wallet/deposits/",
            {"amount": "300", "currency": "TWD", "card": card(cards.DECLINE)},
            format="json",
        )

    assert Payment.objects.get(public_id=response.json()["id"]).status == PaymentStatus.FAILED
    customer.refresh_from_db()
    assert customer.balance == 0


def test_an_ecpay_deposit_answers_with_where_to_pay(customer, api_client_for):
    response = api_client_for(customer).post(
        "/api/v1/wallet/deposits/",
        {"amount": "300", "currency": "TWD", "gateway": "ecpay", "method": "cvs"},
        format="json",
    )

    assert response.status_code == 202
    assert response.json()["next_action"]["type"] == "redirect_to_url"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "300", "currency": "USD", "gateway": "ecpay"}, "currency"),
        ({"amount": "-1", "currency": "TWD", "gateway": "ecpay"}, "amount"),
        ({"amount": "300", "currency": "TWD", "gateway": "balance"}, "kind"),
        ({"amount": "300", "currency": "TWD"}, "card"),
    ],
)
def test_a_deposit_that_does_not_fit_is_refused(customer, api_client_for, body, field):
    response = api_client_for(customer).post("/api/v1/wallet/deposits/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not Payment.objects.exists()


def test_a_withdrawal_takes_money_out_at_once(customer, api_client_for):
    balance_credit(user_id=customer.pk, amount=Decimal("500"), currency="TWD", entry_type="deposit")

    response = api_client_for(customer).post(
        "/api/v1/wallet/withdrawals/", {"amount": "200", "currency": "TWD"}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert (response.json()["kind"], response.json()["status"]) == ("withdrawal", "completed")
    customer.refresh_from_db()
    assert customer.balance == Decimal("300")


def test_a_withdrawal_beyond_the_balance_is_refused_and_writes_nothing(customer, api_client_for):
    balance_credit(user_id=customer.pk, amount=Decimal("100"), currency="TWD", entry_type="deposit")

    response = api_client_for(customer).post(
        "/api/v1/wallet/withdrawals/", {"amount": "100.01", "currency": "TWD"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_balance"
    assert not Payment.objects.filter(kind=PaymentKind.WITHDRAWAL).exists()
    customer.refresh_from_db()
    assert customer.balance == Decimal("100")


def test_the_ledger_is_the_callers_own_newest_first_in_constant_queries(customer, api_client_for):
    other = UserFactory.create()
    for amount in range(1, 31):
        balance_credit(
            user_id=customer.pk, amount=Decimal(amount), currency="TWD", entry_type="deposit"
        )
    balance_credit(user_id=other.pk, amount=Decimal(7), currency="TWD", entry_type="deposit")
    client = api_client_for(customer)

    query_counts = []
    for page_size in (1, 25):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/api/v1/wallet/entries/?page_size={page_size}")
        query_counts.append(len(queries))
        amounts = [entry["amount"] for entry in response.json()["results"]]
        assert amounts == [f"{n}.00" for n in range(30, 30 - page_size, -1)]
    assert query_counts[0] == query_counts[1]
    assert LedgerEntry.objects.filter(user=other).count() == 1


def test_the_wallet_needs_a_signed_in_caller(client):
    for url in ("/api/v1/wallet/", "/api/v1/wallet/entries/"):
        response = client.get(url)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
