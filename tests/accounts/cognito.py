"""A stand-in for an Amazon Cognito user pool: RSA keys made here, the pool's JWKS served over
real HTTP by a server in a thread, and tokens shaped and signed like Cognito's."""

import functools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from rest_framework.settings import api_settings
from rest_framework.views import APIView

POOL_ID = "ap-northeast-1_T3stPool1"
ISSUER = f"https://cognito-idp.ap-northeast-1.amazonaws.com/{POOL_ID}"
CLIENT_ID = "4example5client6id7"
JWKS_PATH = f"/{POOL_ID}/.well-known/jwks.json"
# The classes config/settings.py lists when COGNITO_USER_POOL_ID is set, in its order.
AUTHENTICATION_WITH_COGNITO = [
    "rest_framework.authentication.TokenAuthentication",
    "accounts.auth.CognitoJWTAuthentication",
    "accounts.auth.TrustedSessionAuthentication",
]


@functools.cache
def private_key(name: str) -> rsa.RSAPrivateKey:
    """An RSA key pair, made once per name for the session (making one takes a while)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(kid: str, key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """The key's public half as Cognito publishes it in its JWKS."""
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


class UserPool:
    """The pool's public keys, served at `jwks_url` while the pool runs. `published` maps key ids
    to the keys the JWKS shows (change it to rotate keys); `fetches` counts requests for it;
    `answer` set to a status and body makes it answer that instead (Cognito having a bad day)."""

    def __init__(self) -> None:
        self.published: dict[str, rsa.RSAPrivateKey] = {"key-1": private_key("key-1")}
        self.fetches = 0
        self.answer: tuple[int, bytes] | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _JwksHandler)
        self._server.daemon_threads = True
        self._server.pool = self  # type: ignore[attr-defined]
        self.jwks_url = f"http://127.0.0.1:{self._server.server_address[1]}{JWKS_PATH}"

    @contextmanager
    def running(self) -> Iterator["UserPool"]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join()

    def jwks(self) -> bytes:
        keys = [public_jwk(kid, key) for kid, key in self.published.items()]
        return json.dumps({"keys": keys}).encode()

    def token(
        self,
        subject: str,
        /,
        *,
        kid: str = "key-1",
        key: rsa.RSAPrivateKey | None = None,
        lifetime: int = 3600,
        **claims: Any,
    ) -> str:
        """An access token for `subject`, as the pool issues one to our app client, signed by the
        pool's key `kid` (or by `key`, under that kid). `claims` replace or add claims; a claim
        given as None is left out."""
        now = int(time.time())
        payload = {
            "sub": subject,
            "iss": ISSUER,
            "client_id": CLIENT_ID,
            "origin_jti": str(uuid.uuid4()),
            "event_id": str(uuid.uuid4()),
            "token_use": "access",
            "scope": "aws.cognito.signin.user.admin",
            "auth_time": now,
            "iat": now,
            "exp": now + lifetime,
            "jti": str(uuid.uuid4()),
            "username": subject,
            **claims,
        }
        payload = {name: value for name, value in payload.items() if value is not None}
        signing_key = key or self.published.get(kid) or private_key(kid)
        return jwt.encode(payload, signing_key, algorithm="RS256", headers={"kid": kid})

    def id_token(self, subject: str, /, **claims: Any) -> str:
        """An id token for `subject`, issued to our app client."""
        id_claims = {
            "token_use": "id",
            "client_id": None,
            "scope": None,
            "aud": CLIENT_ID,
            "cognito:username": subject,
            **claims,
        }
        return self.token(subject, **id_claims)


class _JwksHandler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def do_GET(self) -> None:
        pool: UserPool = self.server.pool  # type: ignore[attr-defined]
        if self.path != JWKS_PATH:
            self.send_error(404)
            return
        pool.fetches += 1
        status, body = pool.answer or (200, pool.jwks())
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean


def enable_cognito(settings: Any, monkeypatch: Any, *, jwks_url: str) -> None:
    """Turn Cognito bearer tokens on as COGNITO_USER_POOL_ID does, for the pool at `jwks_url`."""
    settings.COGNITO_USER_POOL_ID = POOL_ID
    settings.COGNITO_ISSUER = ISSUER
    settings.COGNITO_JWKS_URL = jwks_url
    settings.COGNITO_APP_CLIENT_IDS = [CLIENT_ID]
    settings.COGNITO_TOKEN_USES = ["access"]
    settings.COGNITO_CREATE_USERS = False
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_AUTHENTICATION_CLASSES": AUTHENTICATION_WITH_COGNITO,
    }
    # APIView took its authentication classes from the settings when it was imported; DRF
    # reloaded its settings for the override above, the views need telling.
    monkeypatch.setattr(
        APIView, "authentication_classes", api_settings.DEFAULT_AUTHENTICATION_CLASSES
    )
