"""GET /api/v1/payments/ (filters, cursor pages, who sees what) and GET /api/v1/me/."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from payments.models import Payment, PaymentStatus
from tests.factories import OrderFactory, PaymentFactory, StaffFactory

pytestmark = pytest.mark.django_db


def ids(response) -> list[str]:
    return [payment["id"] for payment in response.json()["results"]]


def test_a_customer_lists_only_their_own_payments_newest_first(customer, api_client_for):
    older = PaymentFactory.create(user=customer)
    newer = PaymentFactory.create(user=customer)
    PaymentFactory.create()  # someone else's

    response = api_client_for(customer).get("/api/v1/payments/")

    assert response.status_code == 200
    assert ids(response) == [newer.public_id, older.public_id]


def test_staff_list_every_payment(api_client_for):
    PaymentFactory.create_batch(3)
    staff = StaffFactory.create()

    assert len(ids(api_client_for(staff).get("/api/v1/payments/"))) == 3


def test_filters_narrow_the_list(customer, api_client_for):
    order = OrderFactory.create(user=customer)
    paid = PaymentFactory.create(
        user=customer, kind="order", order=order, status=PaymentStatus.COMPLETED, amount=order.total
    )
    failed = PaymentFactory.create(user=customer, status=PaymentStatus.FAILED, gateway="ecpay")
    Payment.objects.filter(pk=failed.pk).update(created_at=timezone.now() - timedelta(days=3))
    client = api_client_for(customer)
    yesterday = (timezone.now() - timedelta(days=1)).isoformat()

    assert ids(client.get("/api/v1/payments/", {"status": "completed"})) == [paid.public_id]
    assert ids(client.get("/api/v1/payments/", {"gateway": "ecpay"})) == [failed.public_id]
    assert ids(client.get("/api/v1/payments/", {"order": order.number})) == [paid.public_id]
    assert ids(client.get("/api/v1/payments/", {"created_after": yesterday})) == [paid.public_id]
    assert ids(client.get("/api/v1/payments/", {"created_before": yesterday})) == [failed.public_id]


def test_an_unknown_filter_value_is_a_400_naming_the_parameter(customer, api_client_for):
    response = api_client_for(customer).get("/api/v1/payments/", {"status": "paid"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "status" in response.json()["fields"]


def test_cursor_pages_walk_the_whole_list_once(customer, api_client_for):
    created = [PaymentFactory.create(user=customer).public_id for _ in range(5)]
    client = api_client_for(customer)

    seen: list[str] = []
    url: str | None = "/api/v1/payments/?page_size=2"
    while url:
        body = client.get(url).json()
        seen += [payment["id"] for payment in body["results"]]
        url = body["next"]

    assert seen == list(reversed(created))


@pytest.mark.parametrize("page_size", [1, 10, 50])
def test_the_list_takes_the_same_queries_whatever_the_page_size(
    customer, api_client_for, page_size
):
    for _ in range(50):
        PaymentFactory.create(user=customer, kind="order", order=OrderFactory.create(user=customer))
    client = api_client_for(customer)

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/payments/", {"page_size": page_size})

    assert len(response.json()["results"]) == page_size
    # The token and its user, then one query for the page (orders joined in).
    assert len(queries) == 2


def test_me_says_who_the_caller_is_and_their_balance(customer, api_client_for):
    response = api_client_for(customer).get("/api/v1/me/")

    assert response.json() == {
        "email": customer.email,
        "is_staff": False,
        "balance": "0.00",
        "balance_currency": "TWD",
    }


def test_anonymous_callers_get_401(client):
    assert client.get("/api/v1/payments/").status_code == 401
    assert client.get("/api/v1/me/").status_code == 401
