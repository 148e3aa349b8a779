"""The lists' cursor, page size and filters are as strict as the schema says: a cursor we did
not issue is a 404, never the first page or a crash; a page size out of range and an empty
filter are a 400 naming the parameter."""

import base64
from decimal import Decimal

import pytest

from payments.models import LedgerEntryType
from payments.services import balance_credit
from tests.factories import OrderFactory, PaymentFactory

pytestmark = pytest.mark.django_db

LISTS = ["/api/v1/payments/", "/api/v1/orders/", "/api/v1/wallet/entries/"]


def encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        encoded("x=1"),
        encoded("p=abc"),
        encoded("p=2025-13-45 00:00:00"),
        encoded("o=99999999999999999999&p=x"),
    ],
)
def test_a_cursor_we_did_not_issue_is_a_404(customer, api_client_for, path, cursor):
    client = api_client_for(customer)
    client.raise_request_exception = False

    response = client.get(path, {"cursor": cursor})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("path", LISTS)
def test_the_cursors_we_issue_page_through_every_item(customer, api_client_for, path):
    OrderFactory.create_batch(3, user=customer)
    PaymentFactory.create_batch(3, user=customer)
    for _ in range(3):
        balance_credit(
            user_id=customer.pk,
            amount=Decimal("1"),
            currency="TWD",
            entry_type=LedgerEntryType.DEPOSIT,
        )
    client = api_client_for(customer)

    page = client.get(path, {"page_size": 1}).json()
    seen = len(page["results"])
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += len(page["results"])

    assert seen == 3


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("page_size", ["0", "101", "abc", "-1", "", "１"])
def test_a_page_size_outside_1_to_100_is_a_400(customer, api_client_for, path, page_size):
    response = api_client_for(customer).get(path, {"page_size": page_size})

    assert response.status_code == 400
    assert "page_size" in response.json()["fields"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("page_size", ["1", "100"])
def test_a_page_size_from_1_to_100_is_taken(customer, api_client_for, path, page_size):
    assert api_client_for(customer).get(path, {"page_size": page_size}).status_code == 200


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/payments/", "status"),
        ("/api/v1/orders/", "status"),
        ("/api/v1/payments/", "gateway"),
    ],
)
def test_an_empty_filter_is_a_400_naming_it(customer, api_client_for, path, name):
    response = api_client_for(customer).get(path, {name: ""})

    assert response.status_code == 400
    assert list(response.json()["fields"]) == [name]
