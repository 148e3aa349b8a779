"""Errors reach Sentry with nothing secret in them (core/sentry.py). A process of its own, with
SENTRY_DSN pointing at a Sentry stand-in of the test's, raises and logs errors that carry a card
number, a CVC and configured secrets, and crashes a real API request that posted a card; the
test reads every envelope that arrived."""

import gzip
import http.server
import json
import subprocess
import threading
import zlib
from collections.abc import Iterator

import pytest

from core.logging import REDACTED
from core.sentry import Scrubber
from tests.processes import PYTHON, ROOT, project_environment

CARD = "4242424242424242"
CVC = "737"
HASH_KEY = "pwFHCqoQZGmho4w6"  # a configured secret that no pattern would recognise
CARD_KEY = "sk_live_0123456789abcdefXYZ"

SCRIPT = f"""
import logging
import django
django.setup()
import sentry_sdk
from unittest import mock
from django.conf import settings
from django.test import Client
from rest_framework.authtoken.models import Token
from accounts.models import User

def charge(card, cvc):
    key = settings.ECPAY_HASH_KEY
    api_key = settings.CARD_PROVIDER_API_KEY
    raise ValueError(f"declined {{card}} cvc={{cvc}} signed with {{key}} and {{api_key}}")

try:
    charge("{CARD}", "{CVC}")
except ValueError:
    sentry_sdk.capture_exception()
logging.getLogger("payments.pipeline").error("charging {CARD} failed, password=hunter2hunter2")

# A request that posted a card and crashed: Django's integration reports it.
user = User.objects.create_user(email="crash@example.com", password="x")
token = Token.objects.create(user=user)
client = Client(raise_request_exception=False, HTTP_HOST="localhost")
with mock.patch("payments.api.payments.payment_create_with_card", side_effect=RuntimeError("bug")):
    answer = client.post(
        "/api/v1/payments/",
        {{"kind": "deposit", "amount": "500", "currency": "TWD",
         "card": {{"number": "{CARD}", "exp_month": 12, "exp_year": 2099, "cvc": "{CVC}"}}}},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {{token.key}}",
        HTTP_COOKIE="sessionid=abcdefghijklmnop",
    )
print("status", answer.status_code)
sentry_sdk.flush(timeout=10)
"""


@pytest.fixture
def sentry() -> Iterator[tuple[str, list[bytes]]]:
    """A Sentry stand-in: takes envelopes, keeps their bodies; yields its DSN and them."""
    received: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            encoding = self.headers.get("Content-Encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            elif encoding == "br":
                import brotli  # type: ignore[import-not-found]

                body = brotli.decompress(body)
            received.append(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://public0123456789@127.0.0.1:{server.server_port}/42", received
    server.shutdown()
    server.server_close()


def events(envelopes: list[bytes]) -> list[dict]:
    """The error events among the envelopes' items (each item: a header line, a payload line)."""
    found = []
    for envelope in envelopes:
        lines = envelope.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                found.append(json.loads(payload))
    return found


def test_errors_reach_sentry_without_card_data_or_secrets(sentry, tmp_path):
    dsn, received = sentry
    database = {"DJANGO_DEBUG": "true", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=project_environment(**database),
        check=True,
        capture_output=True,
        timeout=300,
    )

    done = subprocess.run(
        [PYTHON, "-c", SCRIPT],
        cwd=ROOT,
        env=project_environment(
            **database,
            SENTRY_DSN=dsn,
            SENTRY_ENVIRONMENT="test",
            ECPAY_HASH_KEY=HASH_KEY,
            CARD_PROVIDER_API_KEY=CARD_KEY,
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert "status 500" in done.stdout
    sent = b"\n".join(received).decode()
    reported = events(received)
    messages = json.dumps(reported)
    # What happened arrived: the exception, the error line and the crashed request.
    assert "ValueError" in messages
    assert "charging" in messages
    assert "RuntimeError" in messages
    assert all(event["environment"] == "test" for event in reported)
    # ...and nothing of the card or the secrets did, anywhere in what was sent.
    for secret in (CARD, "4242 4242", HASH_KEY, CARD_KEY, "hunter2hunter2", "abcdefghijklmnop"):
        assert secret not in sent, secret
    assert f"cvc={CVC}" not in sent
    assert REDACTED in sent
    crashed = next(event for event in reported if "RuntimeError" in json.dumps(event))
    assert not crashed["request"].get("data")  # the posted body is never collected
    assert "Authorization" not in json.dumps(crashed.get("request", {}).get("headers", {}))


def test_the_scrubber_takes_out_secret_fields_and_configured_values_and_keeps_the_rest():
    scrubber = Scrubber(["configured-secret-value", "short"])
    event = {
        "message": "card 4111 1111 1111 1111 refused; configured-secret-value leaked",
        "request": {"headers": [["Authorization", "Token abc"], ["Accept", "text/html"]]},
        "extra": {"api_key": "zzz", "amount": "960", "note": "short stays"},
    }

    scrubbed = scrubber.value(event)

    assert scrubbed["message"] == f"card {REDACTED} refused; {REDACTED} leaked"
    assert scrubbed["request"]["headers"] == [["Authorization", REDACTED], ["Accept", "text/html"]]
    assert scrubbed["extra"] == {"api_key": REDACTED, "amount": "960", "note": "short stays"}
