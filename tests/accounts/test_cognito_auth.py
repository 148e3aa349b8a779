"""Cognito bearer tokens: which pass, which are refused and why, and the pool's keys (fetched over
real HTTP from a stand-in pool, cached, refetched once when Cognito rotates them)."""

import base64
import hashlib
import hmac
import json
import logging
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from rest_framework.test import APIClient

from accounts import auth
from accounts.models import User
from accounts.services import user_from_cognito
from tests.accounts.cognito import (
    AUTHENTICATION_WITH_COGNITO,
    CLIENT_ID,
    ISSUER,
    POOL_ID,
    UserPool,
    private_key,
)
from tests.concurrency import run_at_once
from tests.factories import UserFactory
from tests.processes import free_port
from tests.test_settings import start_django

pytestmark = pytest.mark.django_db

SUB = "7d1e5b0a-3c2f-4e8b-9a61-0f2d4c6b8e13"


@pytest.fixture
def pool(cognito_pool):
    return cognito_pool


@pytest.fixture
def cognito_user(db) -> User:
    return UserFactory.create(email="mei@example.com", cognito_sub=SUB)


def me(token: str):
    return APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}")


def assert_refused(response, code: str) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer ")
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code
    assert body["message"]
    assert body["fields"] == {}


def test_a_valid_access_token_signs_in_the_user_with_its_subject(pool, cognito_user):
    response = me(pool.token(SUB))

    assert response.status_code == 200
    assert response.json()["email"] == "mei@example.com"
    assert pool.fetches == 1


def test_the_pool_keys_are_fetched_once_for_many_requests(pool, cognito_user):
    answers = [me(pool.token(SUB)).status_code for _ in range(3)]

    assert answers == [200, 200, 200]
    assert pool.fetches == 1


def test_an_expired_token_is_refused(pool, cognito_user):
    assert_refused(me(pool.token(SUB, lifetime=-60)), "token_expired")


def test_a_token_expired_a_moment_ago_passes_within_the_leeway(pool, cognito_user, settings):
    settings.COGNITO_LEEWAY_SECONDS = 10

    assert me(pool.token(SUB, lifetime=-3)).status_code == 200


def test_a_token_issued_in_the_future_is_refused(pool, cognito_user):
    assert_refused(me(pool.token(SUB, iat=int(time.time()) + 600)), "token_invalid")


def test_a_token_from_another_issuer_is_refused(pool, cognito_user):
    other_pool = ISSUER.replace(POOL_ID, "ap-northeast-1_0therPool")

    assert_refused(me(pool.token(SUB, iss=other_pool)), "token_wrong_issuer")


def test_a_token_signed_by_a_key_not_in_the_jwks_under_a_known_kid_is_refused(pool, cognito_user):
    forged = pool.token(SUB, kid="key-1", key=private_key("not-the-pools"))

    assert_refused(me(forged), "token_invalid")
    # A known key id: a bad signature is not a reason to fetch the keys again.
    assert pool.fetches == 1


def test_a_rotated_key_is_fetched_once_and_its_tokens_pass(pool, cognito_user):
    assert me(pool.token(SUB, kid="key-1")).status_code == 200

    pool.published = {"key-2": private_key("key-2")}
    response = me(pool.token(SUB, kid="key-2"))

    assert response.status_code == 200
    assert pool.fetches == 2


def test_unknown_key_ids_fetch_the_keys_again_at_most_once_a_minute(pool, cognito_user):
    assert me(pool.token(SUB, kid="key-1")).status_code == 200
    pool.published["key-2"] = private_key("key-2")
    assert me(pool.token(SUB, kid="key-2")).status_code == 200

    # Cognito rotates again within the minute: its new key is not fetched yet, and a flood of
    # made-up key ids makes no request at all.
    pool.published["key-3"] = private_key("key-3")
    refused = [me(pool.token(SUB, kid=kid)) for kid in ("key-3", "made-up-1", "made-up-2")]

    for response in refused:
        assert_refused(response, "token_invalid")
    assert pool.fetches == 2


@pytest.mark.parametrize(
    "algorithm", ["none", "HS256 with a shared secret", "HS256 with the pool's public key", "RS512"]
)
def test_a_token_not_signed_with_rs256_is_refused_before_any_key_is_fetched(
    pool, cognito_user, algorithm
):
    claims = jwt.decode(pool.token(SUB), options={"verify_signature": False})
    public_pem = (
        pool.published["key-1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    token = {
        "none": lambda: jwt.encode(claims, "", algorithm="none", headers={"kid": "key-1"}),
        "HS256 with a shared secret": lambda: jwt.encode(
            claims, "a" * 32, algorithm="HS256", headers={"kid": "key-1"}
        ),
        # The classic confusion: a verifier that let the token pick the algorithm would check
        # this HMAC with the public key as its secret, and pass it.
        "HS256 with the pool's public key": lambda: _hs256(claims, secret=public_pem),
        "RS512": lambda: jwt.encode(
            claims, pool.published["key-1"], algorithm="RS512", headers={"kid": "key-1"}
        ),
    }[algorithm]()

    assert_refused(me(token), "token_invalid")
    assert pool.fetches == 0


def test_an_id_token_is_refused_where_only_access_tokens_are_accepted(pool, cognito_user):
    assert_refused(me(pool.id_token(SUB)), "token_wrong_use")


def test_an_id_token_for_our_app_client_passes_where_id_tokens_are_accepted(
    pool, cognito_user, settings
):
    settings.COGNITO_TOKEN_USES = ["access", "id"]

    assert me(pool.id_token(SUB)).status_code == 200
    assert me(pool.token(SUB)).status_code == 200


def test_an_id_token_for_another_app_client_is_refused(pool, cognito_user, settings):
    settings.COGNITO_TOKEN_USES = ["access", "id"]

    assert_refused(me(pool.id_token(SUB, aud="another-client")), "token_wrong_client")


def test_an_access_token_issued_to_another_app_client_is_refused(pool, cognito_user):
    assert_refused(me(pool.token(SUB, client_id="another-client")), "token_wrong_client")


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "sub", "token_use"])
def test_a_token_without_a_required_claim_is_refused(pool, cognito_user, claim):
    assert_refused(me(pool.token(SUB, **{claim: None})), "token_invalid")


@pytest.mark.parametrize("header", ["Bearer", "Bearer not-a-jwt", "Bearer a.b.c", "Bearer a b"])
def test_a_header_that_carries_no_jwt_is_refused(pool, header):
    response = APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=header)

    assert_refused(response, "token_invalid")


def test_an_unknown_subject_is_refused_when_users_are_not_created(pool):
    token = pool.token(SUB, email="mei@example.com", email_verified=True)

    assert_refused(me(token), "unknown_user")
    assert not User.objects.exists()


@pytest.mark.parametrize("verified", [True, "true"])
def test_an_unknown_subject_with_a_verified_email_becomes_a_customer_when_allowed(
    pool, settings, verified
):
    settings.COGNITO_CREATE_USERS = True
    token = pool.token(SUB, email="mei@example.com", email_verified=verified)

    first, second = me(token), me(token)

    assert first.status_code == second.status_code == 200
    assert first.json() == {**second.json(), "email": "mei@example.com", "is_staff": False}
    user = User.objects.get()
    assert (user.email, user.cognito_sub, user.is_staff) == ("mei@example.com", SUB, False)
    assert not user.has_usable_password()


@pytest.mark.parametrize(
    "claims",
    [
        {"email": "mei@example.com", "email_verified": False},
        {"email": "mei@example.com", "email_verified": "false"},
        {"email": "mei@example.com"},
        {"email_verified": True},
    ],
    ids=["unverified", "unverified as text", "no verification", "no email"],
)
def test_an_unknown_subject_without_a_verified_email_is_refused_even_when_allowed(
    pool, settings, claims
):
    settings.COGNITO_CREATE_USERS = True

    assert_refused(me(pool.token(SUB, **claims)), "unknown_user")
    assert not User.objects.exists()


@pytest.mark.parametrize("email", ["mei@example.com", "Mei@Example.com"])
def test_an_unknown_subject_is_never_linked_to_the_account_with_its_email(pool, settings, email):
    settings.COGNITO_CREATE_USERS = True
    existing = UserFactory.create(email="mei@example.com")

    response = me(pool.token(SUB, email=email, email_verified=True))

    assert_refused(response, "unknown_user")
    existing.refresh_from_db()
    assert existing.cognito_sub is None
    assert User.objects.count() == 1


def test_an_inactive_users_token_is_refused(pool):
    UserFactory.create(cognito_sub=SUB, is_active=False)

    assert_refused(me(pool.token(SUB)), "user_inactive")


@pytest.mark.parametrize(
    "answer",
    [(503, b"Service Unavailable"), (200, b"<html>not json</html>"), (200, b'{"no": "keys"}')],
    ids=["503", "not json", "no keys"],
)
def test_keys_that_cannot_be_fetched_refuse_the_token_and_say_so(
    pool, cognito_user, caplog, answer, monkeypatch
):
    monkeypatch.setattr(auth, "JWKS_RETRY_AFTER_FAILURE_SECONDS", 1)
    pool.answer = answer

    with caplog.at_level(logging.ERROR, logger="accounts.auth"):
        response = me(pool.token(SUB))

    assert_refused(response, "jwks_unavailable")
    assert "Cognito JWKS" in caplog.text
    # Nothing bad was cached: once the pool answers again, its tokens pass, as soon as the wait
    # after a failure is over (a second here).
    pool.answer = None
    assert_refused(me(pool.token(SUB)), "jwks_unavailable")
    time.sleep(1.1)
    assert me(pool.token(SUB)).status_code == 200


def test_while_the_keys_cannot_be_fetched_tokens_are_refused_without_asking_again(
    pool, cognito_user
):
    pool.answer = (503, b"Service Unavailable")

    for _ in range(20):  # signed or made up, each would have asked Cognito again
        assert_refused(me(pool.token(SUB)), "jwks_unavailable")

    assert pool.fetches == 1


def test_a_pool_nobody_answers_for_refuses_the_token(pool, cognito_user, settings):
    settings.COGNITO_JWKS_URL = f"http://127.0.0.1:{free_port()}/.well-known/jwks.json"

    assert_refused(me(pool.token(SUB)), "jwks_unavailable")


def test_drf_tokens_and_anonymous_callers_are_answered_as_before(pool, customer, api_client_for):
    assert api_client_for(customer).get("/api/v1/me/").status_code == 200

    anonymous = APIClient().get("/api/v1/me/")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    # The first authentication class still makes the challenge when nothing was sent.
    assert anonymous["WWW-Authenticate"] == "Token"


def test_without_a_user_pool_a_bearer_token_signs_nobody_in(cognito_user, settings):
    # What the suite's settings say: COGNITO_USER_POOL_ID is not set.
    with UserPool().running() as pool:
        settings.COGNITO_JWKS_URL = pool.jwks_url
        response = me(pool.token(SUB))

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert pool.fetches == 0


def test_setting_a_user_pool_turns_cognito_on_after_drf_tokens():
    shown = start_django(
        "from django.conf import settings as s; import json; print(json.dumps([s.COGNITO_ISSUER,"
        " s.COGNITO_JWKS_URL, s.REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES']]))",
        DJANGO_SECRET_KEY="x",
        COGNITO_USER_POOL_ID=POOL_ID,
        COGNITO_APP_CLIENT_IDS=CLIENT_ID,
    )

    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == [
        ISSUER,
        f"{ISSUER}/.well-known/jwks.json",
        AUTHENTICATION_WITH_COGNITO,
    ]


def test_without_a_user_pool_cognito_is_off():
    shown = start_django(
        "from django.conf import settings as s;"
        " print(s.REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'])",
        DJANGO_SECRET_KEY="x",
    )

    assert "accounts.auth.CognitoJWTAuthentication" not in shown.stdout
    assert "TokenAuthentication" in shown.stdout


def test_a_user_pool_without_app_clients_refuses_to_start():
    started = start_django(DJANGO_SECRET_KEY="x", COGNITO_USER_POOL_ID=POOL_ID)

    assert started.returncode != 0
    assert "COGNITO_APP_CLIENT_IDS is empty" in started.stderr


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_first_requests_racing_for_one_new_subject_make_one_customer():
    users = run_at_once(
        lambda: user_from_cognito(
            sub=SUB, email="mei@example.com", email_verified=True, create=True
        ),
        threads=10,
    )

    assert User.objects.count() == 1
    assert {user.pk for user in users if user is not None} == {User.objects.get().pk}
    assert None not in users


def _hs256(claims: dict, *, secret: bytes) -> str:
    def segment(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    header = segment(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "key-1"}).encode())
    payload = segment(json.dumps(claims).encode())
    signature = hmac.new(secret, header + b"." + payload, hashlib.sha256).digest()
    return (header + b"." + payload + b"." + segment(signature)).decode()
