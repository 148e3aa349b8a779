"""How the card client reads answers the simulator never gives: each becomes the typed error that
says what to do. A small real HTTP server plays the provider."""

import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gateways.base import (
    CardDetails,
    ChargeRequest,
    OutcomeUnknownError,
    PermanentGatewayError,
    TransientGatewayError,
)
from gateways.card.client import CardProviderClient

# What the fake provider answers: a status and a body, or None to hang up without answering.
Answer = tuple[int, bytes] | None

CHARGE = ChargeRequest(token="tok_x", amount=Decimal("10.00"), currency="TWD", idempotency_key="k")
APPROVED = b'{"id": "ch_1", "status": "succeeded", "amount": "10.00", "currency": "TWD"}'


def client_for(base_url: str) -> CardProviderClient:
    return CardProviderClient(
        base_url=base_url, api_key="key", connect_timeout=1.0, read_timeout=2.0
    )


@pytest.fixture
def provider_answering() -> Iterator[Callable[[Answer], CardProviderClient]]:
    """Start a provider that gives every request the same answer; returns a client of it."""
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Answer) -> CardProviderClient:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.answer()

            def do_POST(self):
                self.answer()

            def answer(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if answer is None:
                    return  # the connection closes with nothing said
                status, body = answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return client_for(f"http://127.0.0.1:{server.server_port}")

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_the_fake_provider_is_read_like_the_real_one(provider_answering):
    result = provider_answering((201, APPROVED)).charge(CHARGE)

    assert (result.charge_id, result.amount, result.currency) == ("ch_1", Decimal("10.00"), "TWD")


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_rate_limits_and_server_errors_raise_transient_error(provider_answering, status):
    with pytest.raises(TransientGatewayError, match=f"HTTP {status}"):
        provider_answering((status, b"<html>busy</html>")).charge(CHARGE)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_other_client_errors_raise_permanent_error(provider_answering, status):
    with pytest.raises(PermanentGatewayError, match=f"HTTP {status}") as raised:
        provider_answering((status, b'{"code": "nope"}')).charge(CHARGE)

    assert type(raised.value) is PermanentGatewayError


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<html>ok</html>", id="not-json"),
        pytest.param(b'["ch_1"]', id="not-an-object"),
        pytest.param(APPROVED.replace(b'"10.00"', b"10.0"), id="amount-as-a-float"),
        pytest.param(APPROVED.replace(b'"10.00"', b'"ten"'), id="amount-not-a-number"),
        pytest.param(APPROVED.replace(b'"ch_1"', b'""'), id="no-charge-id"),
        pytest.param(APPROVED.replace(b"succeeded", b"pending"), id="unknown-status"),
    ],
)
def test_a_malformed_answer_raises_permanent_error(provider_answering, body):
    with pytest.raises(PermanentGatewayError):
        provider_answering((200, body)).charge(CHARGE)


def test_a_declined_answer_without_a_code_raises_permanent_error(provider_answering):
    with pytest.raises(PermanentGatewayError, match="code"):
        provider_answering((402, b"{}")).charge(CHARGE)


def test_find_charge_takes_only_the_providers_own_not_found_for_no_charge(provider_answering):
    not_found = b'{"code": "charge_not_found", "message": "No charge."}'

    assert provider_answering((404, not_found)).find_charge("k") is None
    # A 404 from anything else (a wrong URL) says nothing about the charge.
    with pytest.raises(PermanentGatewayError, match="HTTP 404"):
        provider_answering((404, b"<html>Not Found</html>")).find_charge("k")


def test_an_unreachable_provider_raises_transient_error(unreachable_url):
    with pytest.raises(TransientGatewayError):
        client_for(unreachable_url).charge(CHARGE)


def test_a_connection_dropped_after_sending_raises_outcome_unknown(provider_answering):
    with pytest.raises(OutcomeUnknownError):
        provider_answering(None).charge(CHARGE)


def test_a_malformed_provider_url_raises_permanent_error():
    with pytest.raises(PermanentGatewayError):
        client_for("not a url").tokenize(
            CardDetails(number="4242424242424242", exp_month=1, exp_year=2099, cvc="123")
        )
