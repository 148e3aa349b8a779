"""JSON log lines with their request, task and payment, and the redaction of secrets."""

import io
import json
import logging

import pytest

from core.logging import (
    REDACTED,
    ContextFilter,
    JsonFormatter,
    RedactFilter,
    bind_payment,
    redact,
)
from core.tasks import ping
from payments.tasks import payment_notify
from tests.factories import PaymentFactory


@pytest.mark.parametrize(
    "text",
    [
        "card 4242424242424242 declined",
        "card 4242 4242 4242 4242 declined",
        "card 4242-4242-4242-4242 declined",
        "amex 378282246310005",
        "{'number': '5555555555554444', 'cvc': '123'}",
    ],
)
def test_card_numbers_are_redacted_however_they_are_written(text):
    redacted = redact(text)

    assert REDACTED in redacted
    digits = "".join(character for character in redacted if character.isdigit())
    assert "4242424242" not in digits
    assert "5555555555" not in digits
    assert "37828224631" not in digits


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ('{"cvc": "123", "exp_month": 12}', '"exp_month": 12'),
        ("cvv=987&amount=960", "amount=960"),
        ("password: hunter2, user: a@example.com", "user: a@example.com"),
        ("Authorization: Token 3e02ba3125e8831c68a44abac29811c27bb689f9", "Authorization: "),
        ("Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig", "Authorization: "),
        (
            "HashKey=pwFHCqoQZGmho4w6&HashIV=EkRm7iFT261dpevs&MerchantID=3002607",
            "MerchantID=3002607",
        ),
        ("DJANGO_SECRET_KEY='abc123xyz'", "DJANGO_SECRET_KEY="),
    ],
)
def test_secret_values_are_redacted_and_the_rest_is_kept(text, kept):
    redacted = redact(text)

    assert REDACTED in redacted
    assert kept in redacted
    for secret in ("123", "987", "hunter2", "3e02ba31", "eyJhbG", "pwFHCq", "EkRm7i", "abc123"):
        if secret in text and secret not in kept:
            assert secret not in redacted


def test_numbers_that_are_not_cards_are_kept():
    text = "order 492500005643 total 960.00 at 2026-11-22 trade 12345678901234"  # not Luhn-valid

    assert redact(text) == text


@pytest.mark.parametrize(
    "text",
    [
        # A Celery task id whose digits 7470948-7716-4633 are a Luhn-valid run (CI saw it).
        "Task core.tasks.ping[b7470948-7716-4633-aa13-a296880390f7] succeeded",
        "task 42424242-4242-4242-aa13-a296880390f7 received",
        # A request id, uuid4().hex, with a Luhn-valid run of 15 digits inside.
        "request_id=ab378282246310005cdef0123456789a",
    ],
)
def test_ids_are_kept_whatever_digits_they_hold(text):
    assert redact(text) == text


def test_a_card_number_beside_an_id_is_still_redacted():
    text = "task b7470948-7716-4633-aa13-a296880390f7 charged 4242424242424242"

    assert redact(text) == f"task b7470948-7716-4633-aa13-a296880390f7 charged {REDACTED}"


def logged(logger_name: str, emit) -> list[dict]:
    """What `emit` logs through the production handler set-up, as parsed JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactFilter())
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_record_is_one_json_line_with_message_arguments_and_traceback_redacted():
    def emit(logger):
        try:
            raise ValueError("bad card 4000000000000002 cvc=321")
        except ValueError:
            logger.exception("charging %s failed", "4242424242424242")

    (line,) = logged("tests.redaction", emit)

    assert line["level"] == "ERROR"
    assert line["message"] == f"charging {REDACTED} failed"
    assert "ValueError" in line["exception"]
    assert "4000000000000002" not in line["exception"]
    assert "321" not in line["exception"]


@pytest.mark.django_db
def test_a_requests_lines_carry_its_id_which_the_answer_names(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-trace-0001")

    assert response["X-Request-ID"] == "lb-trace-0001"
    generated = client.get("/healthz", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"]
    assert generated != "<script>"
    assert len(generated) == 32


@pytest.mark.django_db
def test_a_payment_tasks_lines_carry_the_task_and_the_payment():
    payment = PaymentFactory.create()

    def emit(logger):
        payment_notify.delay(payment.pk)  # eager in tests: logs "Task ... succeeded" inside

    lines = logged("celery.app.trace", emit)

    assert lines
    assert all(line["payment_id"] == payment.pk for line in lines)
    assert all(line["task_id"] for line in lines)


def test_a_bound_payment_is_on_every_later_line_and_other_tasks_carry_none():
    def emit(logger):
        bind_payment(42)
        logger.info("about the payment")

    (line,) = logged("tests.context", emit)
    assert line["payment_id"] == 42
    bind_payment(None)  # type: ignore[arg-type]

    lines = logged("celery.app.trace", lambda logger: ping.delay())
    assert all("payment_id" not in line for line in lines)
