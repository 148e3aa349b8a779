"""Amazon Cognito bearer tokens for the API (seed 001): `Authorization: Bearer <JWT>`.

A token passes when it is signed with RS256 by one of the user pool's keys (its JWKS, found by the
token's `kid`), comes from the pool (`iss`), has not expired, is a kind of token we accept
(`token_use`) and was issued to one of our app clients (`client_id` of an access token, `aud` of
an id token). Its `sub` is then the local user with that `cognito_sub`.

The pool's keys are kept in the Django cache for COGNITO_JWKS_CACHE_SECONDS. A token signed by a
key we do not have makes one fetch sooner (Cognito rotated its keys), at most once a minute, and
a failed fetch is not tried again for JWKS_RETRY_AFTER_FAILURE_SECONDS, so a flood of made-up key
ids cannot turn into a flood of requests to Cognito, whether it answers or not.

Every refusal is a 401 with a precise `code`, and fails closed: keys that cannot be fetched
refuse the token, they never let it through.
"""

import hashlib
import logging
from typing import Any, cast

import jwt
import requests
from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.authentication import (
    BaseAuthentication,
    SessionAuthentication,
    get_authorization_header,
)
from rest_framework.request import Request

from accounts.models import User
from accounts.services import user_from_cognito
from accounts.two_factor import session_is_trusted

logger = logging.getLogger(__name__)

# Cognito signs with RS256 and nothing else; a token that names another algorithm (`none`, or
# HS256 with our public key as its secret) is refused before any key is looked at.
ALGORITHM = "RS256"
# Seconds to connect to Cognito's JWKS endpoint, and to read its answer.
JWKS_TIMEOUT_SECONDS = (2.0, 3.0)
# Fewest seconds between two fetches made for a key id we did not have.
JWKS_REFETCH_INTERVAL_SECONDS = 60
# Seconds without a fetch after one failed: while Cognito's keys cannot be had, every token is
# refused at once, rather than each making its caller wait on a fetch of its own (and a flood of
# tokens, signed or not, a flood of requests to Cognito).
JWKS_RETRY_AFTER_FAILURE_SECONDS = 10
# RFC 6750: what a caller whose bearer token was refused is told to send instead.
BEARER_CHALLENGE = 'Bearer realm="api", error="invalid_token"'


def request_caller(request: Request) -> User:
    """The signed-in user of an API request. Only for views behind IsAuthenticated (the
    default permission), which lets no one else that far."""
    return cast(User, request.user)


class BearerTokenRefused(exceptions.AuthenticationFailed):
    """A 401 whose `code` says why the bearer token was refused, challenging for a valid one."""

    # APIView.handle_exception sets `auth_header` to the challenge of the view's first
    # authentication class (DRF's `Token`), which suits a caller who sent nothing. This caller
    # sent a bearer token: the answer challenges for a bearer token, whatever comes first.
    @property
    def auth_header(self) -> str:
        return BEARER_CHALLENGE

    @auth_header.setter
    def auth_header(self, value: str) -> None:
        pass


class CognitoJWTAuthentication(BaseAuthentication):
    """DRF authentication by a Cognito user pool's bearer token; see the module's docstring.

    Takes no part when the Authorization header is not `Bearer ...`, so DRF tokens and sessions
    work beside it. `request.auth` is the token's verified claims.
    """

    def authenticate(self, request: Request) -> tuple[User, dict[str, Any]] | None:
        words = get_authorization_header(request).split()
        if not words or words[0].lower() != b"bearer":
            return None
        if len(words) != 2:
            raise BearerTokenRefused(
                "The Authorization header must be `Bearer <token>`.", code="token_invalid"
            )
        try:
            token = words[1].decode("ascii")
        except UnicodeDecodeError:
            raise BearerTokenRefused("The token is not a JWT.", code="token_invalid") from None
        claims = verified_claims(token)
        user = user_from_cognito(
            sub=claims["sub"],
            email=claims["email"] if isinstance(claims.get("email"), str) else None,
            # Cognito writes a boolean; users federated from some identity providers get "true".
            email_verified=claims.get("email_verified") is True
            or claims.get("email_verified") == "true",
            create=settings.COGNITO_CREATE_USERS,
        )
        if user is None:
            raise BearerTokenRefused("The token's user has no account here.", code="unknown_user")
        if not user.is_active:
            raise BearerTokenRefused("The token's user is inactive.", code="user_inactive")
        return user, claims

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


def verified_claims(token: str) -> dict[str, Any]:
    """The claims of `token` if the user pool issued it to one of our app clients and it is
    still valid; raises BearerTokenRefused otherwise."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise BearerTokenRefused("The token is not a JWT.", code="token_invalid") from None
    if header.get("alg") != ALGORITHM:
        raise BearerTokenRefused(
            f"The token must be signed with {ALGORITHM}.", code="token_invalid"
        )
    key_id = header.get("kid")
    if not isinstance(key_id, str):
        raise BearerTokenRefused("The token names no signing key.", code="token_invalid")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=_signing_key(key_id),
            algorithms=[ALGORITHM],
            issuer=settings.COGNITO_ISSUER,
            leeway=settings.COGNITO_LEEWAY_SECONDS,
            # Access tokens carry no `aud`: the app client is checked below, per token_use.
            options={
                "require": ["exp", "iat", "iss", "sub", "token_use"],
                "verify_aud": False,
            },
        )
    except jwt.ExpiredSignatureError:
        raise BearerTokenRefused("The token has expired.", code="token_expired") from None
    except jwt.InvalidIssuerError:
        raise BearerTokenRefused(
            "The token comes from another issuer.", code="token_wrong_issuer"
        ) from None
    except jwt.InvalidTokenError as error:
        raise BearerTokenRefused(f"The token is not valid: {error}", code="token_invalid") from None
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise BearerTokenRefused("The token names no user.", code="token_invalid")
    use = claims["token_use"]
    if use not in settings.COGNITO_TOKEN_USES:
        raise BearerTokenRefused(f"{use!r} tokens are not accepted here.", code="token_wrong_use")
    client_ids = [claims.get("client_id")] if use == "access" else _audience(claims)
    if not any(client_id in settings.COGNITO_APP_CLIENT_IDS for client_id in client_ids):
        raise BearerTokenRefused(
            "The token was issued to another app client.", code="token_wrong_client"
        )
    return claims


def _audience(claims: dict[str, Any]) -> list[Any]:
    audience = claims.get("aud")
    return audience if isinstance(audience, list) else [audience]


def _signing_key(key_id: str) -> jwt.PyJWK:
    """The pool's public key `key_id`, from the cache or fetched; raises BearerTokenRefused."""
    url = settings.COGNITO_JWKS_URL
    cache_key = f"cognito:jwks:{hashlib.sha256(url.encode()).hexdigest()[:32]}"
    keys: dict[str, dict[str, Any]] | None = cache.get(cache_key)
    if keys is None:
        keys = _fetch_keys(url, cache_key)
    # An unknown key: fetch again, unless that was done in the last minute. Only the request
    # that wins the add fetches; the others make do with the keys we have.
    elif key_id not in keys and cache.add(
        f"{cache_key}:refetched", True, timeout=JWKS_REFETCH_INTERVAL_SECONDS
    ):
        logger.info("Cognito token signed by unknown key %r: fetching the JWKS again", key_id)
        keys = _fetch_keys(url, cache_key)
    if key_id not in keys:
        raise BearerTokenRefused("The token's signing key is unknown.", code="token_invalid")
    return jwt.PyJWK(keys[key_id], algorithm=ALGORITHM)


def _fetch_keys(url: str, cache_key: str) -> dict[str, dict[str, Any]]:
    """The pool's RS256 signing keys by key id, fetched from `url` and cached; none fetched
    for JWKS_RETRY_AFTER_FAILURE_SECONDS after a fetch failed."""
    failed_key = f"{cache_key}:failed"
    if cache.get(failed_key):
        raise _keys_unavailable()
    try:
        response = requests.get(url, timeout=JWKS_TIMEOUT_SECONDS)
        response.raise_for_status()
        published = response.json()["keys"]
        keys = {jwk["kid"]: jwk for jwk in published if _is_signing_key(jwk)}
    except (requests.RequestException, ValueError, KeyError, TypeError) as error:
        logger.error("Cognito JWKS %s cannot be fetched: %r", url, error)
        cache.set(failed_key, True, timeout=JWKS_RETRY_AFTER_FAILURE_SECONDS)
        raise _keys_unavailable() from None
    cache.set(cache_key, keys, timeout=settings.COGNITO_JWKS_CACHE_SECONDS)
    return keys


def _keys_unavailable() -> "BearerTokenRefused":
    return BearerTokenRefused(
        "The token's signing keys cannot be fetched right now. Try again shortly.",
        code="jwks_unavailable",
    )


def _is_signing_key(jwk: Any) -> bool:
    """Whether a published JWK is an RS256 signing key we can use; other keys are skipped."""
    if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
        return False
    if jwk.get("kty") != "RSA" or jwk.get("alg", ALGORITHM) != ALGORITHM:
        return False
    if jwk.get("use", "sig") != "sig":
        return False
    try:
        jwt.PyJWK(jwk, algorithm=ALGORITHM)
    except jwt.PyJWTError:
        return False
    return True


class TrustedSessionAuthentication(SessionAuthentication):
    """DRF's session authentication, refusing a session whose user must prove a second factor
    (accounts/two_factor.py) and has not: a manager's password alone must not refund through
    the API what the back office would not let them refund."""

    def authenticate(self, request: Request) -> tuple[User, None] | None:
        signed_in = super().authenticate(request)
        if signed_in is not None and not session_is_trusted(request._request):
            raise exceptions.AuthenticationFailed(
                "Sign in to the back office with your second factor first.",
                code="two_factor_required",
            )
        return signed_in
