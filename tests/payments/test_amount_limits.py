"""Amounts in range everywhere: a payment, a deposit, a balance, ECPay's range for each way to
pay, an order's total and every money column, refused before any money moves."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from core.models import MONEY_MAX
from gateways.card.simulator import cards
from payments.models import Payment, PaymentKind, PaymentStatus
from payments.services import payment_complete, payment_transition
from tests.factories import OrderFactory, StaffFactory, UserFactory, fund
from tests.orders.test_api import may_add_orders

pytestmark = pytest.mark.django_db


def card_deposit(amount: str) -> dict:
    return {
        "kind": "deposit",
        "amount": amount,
        "currency": "TWD",
        "card": {
            "number": cards.APPROVE,
            "exp_month": 1,
            "exp_year": timezone.localdate().year + 1,
            "cvc": "999",
        },
    }


def ecpay_deposit(amount: str, method: str = "atm") -> dict:
    return {
        "kind": "deposit",
        "amount": amount,
        "currency": "TWD",
        "gateway": "ecpay",
        "method": method,
    }


def test_a_deposit_beyond_any_balance_is_refused_before_the_card_is_charged(
    customer, api_client_for, card_provider
):
    # Finding 3: 999,999,999,999.99 onto a balance of 100 charged the card and then either
    # failed to credit it (MariaDB) or left the user's row unreadable (SQLite).
    fund(customer, "100")
    client = api_client_for(customer)

    response = client.post("/api/v1/payments/", card_deposit("999999999999.99"), format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "amount_out_of_range"
    assert list(response.json()["fields"]) == ["amount"]
    assert not Payment.objects.exists()
    me = client.get("/api/v1/me/")
    assert (me.status_code, me.json()["balance"]) == (200, "100.00")


def test_a_deposit_above_the_deposit_maximum_is_refused(customer, api_client_for, settings):
    settings.DEPOSIT_MAX_AMOUNT = Decimal("5000")

    response = api_client_for(customer).post(
        "/api/v1/payments/", ecpay_deposit("5001"), format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"] == {"amount": ["A deposit is at most 5000 TWD."]}


def test_a_deposit_that_would_take_the_balance_past_its_maximum_is_refused(
    customer, api_client_for, settings
):
    settings.BALANCE_MAX_AMOUNT = Decimal("1000")
    fund(customer, "800")
    client = api_client_for(customer)

    response = client.post("/api/v1/payments/", ecpay_deposit("201"), format="json")

    assert response.status_code == 400
    assert response.json()["fields"]["amount"] == [
        "A balance holds at most 1000 TWD: 200.00 TWD more can be deposited now."
    ]
    assert client.post("/api/v1/payments/", ecpay_deposit("200"), format="json").status_code == 202


@pytest.mark.parametrize(
    ("method", "amount", "accepted"),
    [
        ("atm", "10", False),
        ("atm", "11", True),
        ("atm", "49999", True),
        ("atm", "50000", False),
        ("cvs", "32", False),
        ("cvs", "6000", True),
        ("cvs", "6001", False),
        ("barcode", "16", False),
        ("barcode", "20000", True),
        ("barcode", "20001", False),
        ("card", "4", False),
        ("card", "199999", True),
        ("card", "200000", False),
    ],
)
def test_ecpay_takes_each_way_to_pay_within_its_own_range(
    customer, api_client_for, settings, method, amount, accepted
):
    settings.DEPOSIT_MAX_AMOUNT = Decimal("1000000")

    response = api_client_for(customer).post(
        "/api/v1/payments/", ecpay_deposit(amount, method), format="json"
    )

    assert response.status_code == (202 if accepted else 400), response.json()
    if not accepted:
        assert response.json()["code"] == "amount_out_of_range"
        assert "ECPay takes" in response.json()["fields"]["amount"][0]


def test_an_order_nobody_could_pay_is_not_created(api_client_for, settings):
    settings.PAYMENT_MAX_AMOUNT = Decimal("10000")
    staff = may_add_orders(StaffFactory.create())
    customer = UserFactory.create()
    item = {"sku": "TEA", "name": "Tea", "unit_price": "5000", "quantity": 3}

    response = api_client_for(staff).post(
        "/api/v1/orders/",
        {"customer": customer.email, "currency": "TWD", "items": [item]},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "amount_out_of_range"
    assert list(response.json()["fields"]) == ["items"]
    assert not customer.orders.exists()


def test_an_order_as_large_as_the_columns_allow_is_refused_without_a_500(api_client_for):
    staff = may_add_orders(StaffFactory.create())
    item = {"sku": "GOLD", "name": "Gold", "unit_price": "999999999999", "quantity": 10000}

    response = api_client_for(staff).post(
        "/api/v1/orders/", {"currency": "TWD", "items": [item] * 100}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "amount_out_of_range"


def test_the_database_refuses_a_balance_its_column_cannot_hold(customer):
    # SQLite stores it unless the check constraint refuses; MariaDB's strict mode refuses it too.
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        User.objects.filter(pk=customer.pk).update(balance=MONEY_MAX + 1)


def test_money_credited_beyond_the_balance_maximum_is_still_credited(customer, settings):
    # A payment that arrived anyway is never refused for the balance's limit: it fits the
    # column many times over (payments.checks).
    settings.BALANCE_MAX_AMOUNT = Decimal("1000")
    fund(customer, "1000")
    order = OrderFactory.create(user=customer)
    stray = Payment.objects.create(
        user=customer,
        kind=PaymentKind.ORDER,
        order=order,
        gateway="wallet",
        method="wallet",
        amount=order.total,
        gateway_reference="W-1",
    )
    payment_transition(payment_id=stray.pk, to=PaymentStatus.PROCESSING, event="validated")

    payment_complete(payment_id=stray.pk, gateway_reference="W-1")

    customer.refresh_from_db()
    stray.refresh_from_db()
    assert stray.status == PaymentStatus.CREDITED
    assert customer.balance == Decimal("1960")


@pytest.mark.parametrize("value", ["0", "-5", "1000000000", "0.001"])
def test_a_limit_outside_what_the_columns_hold_stops_the_service(settings, value):
    settings.BALANCE_MAX_AMOUNT = Decimal(value)

    with pytest.raises(SystemCheckError, match=r"payments\.E001"):
        call_command("check")


def test_the_refusal_stays_english_for_a_caller_who_reads_chinese(customer, api_client_for):
    response = api_client_for(customer).post(
        "/api/v1/payments/",
        ecpay_deposit("20001", "barcode"),
        format="json",
        HTTP_ACCEPT_LANGUAGE="zh-hant",
    )

    assert response.status_code == 400
    assert response.json()["fields"]["amount"] == [
        "ECPay takes Convenience store barcode payments of 17 to 20000 TWD."
    ]
