"""Who may read what through the API, however they sign in: a session, a DRF token or a Cognito
bearer token; a customer sees only their own payments, staff see everyone's, and anyone else is
refused with a 401 in the error shape."""

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from tests.accounts.cognito import ISSUER, POOL_ID, UserPool, enable_cognito, private_key
from tests.conftest import TokenClient
from tests.factories import PASSWORD, PaymentFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

SIGN_INS = ["session", "token", "cognito"]
OTHER_ISSUER = ISSUER.replace(POOL_ID, "ap-northeast-1_0therPool")
URLS = ["/api/v1/me/", "/api/v1/payments/", "/api/v1/payments/{payment}/"]


@pytest.fixture
def pool(settings, monkeypatch):
    with UserPool().running() as pool:
        enable_cognito(settings, monkeypatch, jwks_url=pool.jwks_url)
        yield pool


@pytest.fixture
def payment():
    """A payment of a customer's, beside one of another customer's."""
    PaymentFactory.create(user=UserFactory.create(cognito_sub="sub-of-someone-else"))
    return PaymentFactory.create(user=UserFactory.create(cognito_sub="sub-of-the-customer"))


def signed_in(how: str, user, pool: UserPool) -> APIClient:
    if how == "session":
        client = APIClient()
        assert client.login(request=RequestFactory().get("/"), email=user.email, password=PASSWORD)
        return client
    if how == "token":
        return TokenClient(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pool.token(user.cognito_sub)}")
    return client


def listed(client: APIClient) -> list[str]:
    response = client.get("/api/v1/payments/")
    assert response.status_code == 200
    return [item["id"] for item in response.json()["results"]]


def assert_unauthenticated(response, code: str) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"]
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert (body["code"], body["fields"]) == (code, {})
    assert body["message"]


@pytest.mark.parametrize("how", SIGN_INS)
def test_a_customer_reads_their_own_payment_and_nobody_elses(pool, payment, how):
    client = signed_in(how, payment.user, pool)

    assert client.get("/api/v1/me/").json()["email"] == payment.user.email
    assert listed(client) == [payment.public_id]
    detail = client.get(f"/api/v1/payments/{payment.public_id}/")
    assert (detail.status_code, detail.json()["id"]) == (200, payment.public_id)


@pytest.mark.parametrize("how", SIGN_INS)
def test_another_customer_neither_lists_nor_finds_the_payment(pool, payment, how):
    other = UserFactory.create(cognito_sub="sub-of-another-customer")
    client = signed_in(how, other, pool)

    assert client.get("/api/v1/me/").json()["email"] == other.email
    assert listed(client) == []
    missing = client.get(f"/api/v1/payments/{payment.public_id}/")
    assert missing.status_code == 404
    assert missing.json() == {"code": "not_found", "message": "Not found.", "fields": {}}


@pytest.mark.parametrize("how", SIGN_INS)
def test_staff_list_and_read_every_customers_payment(pool, payment, how):
    staff = StaffFactory.create(cognito_sub="sub-of-staff")
    client = signed_in(how, staff, pool)

    assert client.get("/api/v1/me/").json()["is_staff"] is True
    everyone = listed(client)
    assert payment.public_id in everyone
    assert len(everyone) == 2
    assert client.get(f"/api/v1/payments/{payment.public_id}/").status_code == 200


@pytest.mark.parametrize("url", URLS)
def test_an_anonymous_caller_is_refused(pool, payment, url):
    response = APIClient().get(url.format(payment=payment.public_id))

    assert_unauthenticated(response, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize(
    ("bad_token", "code"),
    [
        (lambda pool, sub: pool.token(sub, lifetime=-3600), "token_expired"),
        (lambda pool, sub: pool.token(sub, iss=OTHER_ISSUER), "token_wrong_issuer"),
        # Signed by a key the pool never published, under the id of one it did.
        (lambda pool, sub: pool.token(sub, key=private_key("not-the-pools")), "token_invalid"),
    ],
    ids=["expired", "wrong issuer", "wrong key"],
)
def test_a_bad_cognito_token_is_refused(pool, payment, url, bad_token, code):
    bearer = bad_token(pool, payment.user.cognito_sub)

    response = APIClient().get(
        url.format(payment=payment.public_id), HTTP_AUTHORIZATION=f"Bearer {bearer}"
    )

    assert_unauthenticated(response, code)
    assert response["WWW-Authenticate"].startswith("Bearer ")
