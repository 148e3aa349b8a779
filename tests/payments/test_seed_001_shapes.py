"""Seed 001's shapes (issue 22, 4): `POST /payment` with `{amount, currency}` and
`GET /payment?paymentId=`, with a Cognito bearer token.

This API keeps its own shapes (docs/seed-compatibility.md): a payment says what it pays for, and
an amount is a string. A client following the seed is told, with a 400, what to send instead;
no parameter is ever silently ignored. And a Cognito user creates and reads a payment as the
seed's does.
"""

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from payments.models import Payment
from tests.accounts.cognito import UserPool
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SUB = "5b1c0a7e-2d4f-4c3a-8e9b-1f0a2b3c4d5e"


@pytest.fixture
def cognito_user(db) -> User:
    return UserFactory.create(email="lin@example.com", cognito_sub=SUB)


def bearer(pool: UserPool, subject: str = SUB) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pool.token(subject)}")
    return client


def assert_told(response, code: str, field: str, *words: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) >= {"code", "message", "fields"}
    assert body["code"] == code
    text = " ".join([body["message"], *body["fields"].get(field, [])])
    for word in words:
        assert word in text, text


def test_a_cognito_user_creates_a_payment_and_reads_it_back(cognito_pool, cognito_user):
    client = bearer(cognito_pool)

    created = client.post(
        "/api/v1/payments/",
        {
            "kind": "deposit",
            "amount": "100",
            "currency": "TWD",
            "gateway": "ecpay",
            "method": "atm",
        },
        format="json",
    )

    assert created.status_code == 202, created.content
    payment_id = created.json()["id"]
    read = client.get(f"/api/v1/payments/{payment_id}/")
    assert read.status_code == 200
    assert (read.json()["amount"], read.json()["currency"]) == ("100.00", "TWD")
    assert Payment.objects.get(public_id=payment_id).user == cognito_user
    listed = client.get("/api/v1/payments/").json()["results"]
    assert [payment["id"] for payment in listed] == [payment_id]
    # Another Cognito user: as if it did not exist.
    UserFactory.create(cognito_sub="0f0e0d0c-0b0a-4908-8706-050403020100")
    other = bearer(cognito_pool, "0f0e0d0c-0b0a-4908-8706-050403020100")
    assert other.get(f"/api/v1/payments/{payment_id}/").status_code == 404


def test_the_seeds_bare_amount_and_currency_is_told_what_to_send(cognito_pool, cognito_user):
    response = bearer(cognito_pool).post(
        "/api/v1/payments/", {"amount": "100", "currency": "TWD"}, format="json"
    )

    assert_told(response, "invalid", "kind", '"order"', '"deposit"', '"gateway"')
    assert not Payment.objects.exists()


def test_the_seeds_json_number_amount_is_refused(cognito_pool, cognito_user):
    response = bearer(cognito_pool).post(
        "/api/v1/payments/",
        {"kind": "deposit", "amount": 100, "currency": "TWD", "gateway": "ecpay"},
        format="json",
    )

    assert_told(response, "invalid", "amount", "JSON number is not money")
    assert not Payment.objects.exists()


def test_the_seeds_payment_id_parameter_is_refused_not_ignored(cognito_pool, cognito_user):
    response = bearer(cognito_pool).get("/api/v1/payments/", {"paymentId": "pay_x"})

    assert_told(response, "invalid", "paymentId", "GET /api/v1/payments/{id}/")


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/payments/?stauts=completed",
        "/api/v1/orders/?paymentId=1",
        "/api/v1/wallet/entries/?type=deposit",
    ],
)
def test_a_parameter_a_list_does_not_take_is_a_400_naming_it(cognito_pool, cognito_user, url):
    name = url.split("?")[1].split("=")[0]

    response = bearer(cognito_pool).get(url)

    assert_told(response, "invalid", name, "Not a parameter of this list")


def test_the_pages_parameters_are_taken_by_every_list(cognito_pool, cognito_user):
    client = bearer(cognito_pool)
    for url in ("/api/v1/payments/", "/api/v1/orders/", "/api/v1/wallet/entries/"):
        assert client.get(url, {"page_size": "5"}).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/payment", "/api/v1/payment/"])
def test_the_seeds_route_says_where_payments_are(client, path):
    created = client.post(path, {"amount": 100, "currency": "USD"}, content_type="application/json")
    assert_told(created, "use_payments_api", "kind", "/api/v1/payments/", '"deposit"')

    read = client.get(path, {"paymentId": "pay_" + "a1" * 12})
    assert_told(read, "use_payments_api", "paymentId", f"/api/v1/payments/pay_{'a1' * 12}/")

    unknown = client.get(path, {"paymentId": "<script>"})
    assert_told(unknown, "use_payments_api", "paymentId", "/api/v1/payments/{id}/")
    assert "<script>" not in unknown.content.decode()
    assert not Payment.objects.exists()
