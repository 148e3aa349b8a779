"""Logs as JSON lines, each with the request or task it belongs to, and nothing secret in them.

- `RedactFilter` takes card numbers, security codes and secrets out of every record, whatever
  logged it (our code, Django, a library), message, arguments and traceback alike.
- `ContextFilter` puts the current request id, task id and payment id on every record; they are
  bound by `RequestIdMiddleware`, by the Celery signals below, and by `bind_payment`.
- `JsonFormatter` writes one JSON object a line, for CloudWatch and its queries.
"""

import contextvars
import json
import logging
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from celery.signals import task_postrun, task_prerun
from django.http import HttpRequest, HttpResponse

from core.tracing import current_trace_ids

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_task_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_id", default=None)
_payment_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("payment_id", default=None)

REDACTED = "[REDACTED]"
# 13 to 19 digits, maybe in groups split by spaces or dashes: what a card number looks like.
_CARD_NUMBER = re.compile(r"(?<![\d])(?:\d[ -]?){12,18}\d(?![\d])")
# Ids that are no card number, whatever run of digits they hold: UUIDs (Celery's task ids) and
# their 32-digit hex form (our request ids). About one in 450 holds a Luhn-valid run of 13 or
# more digits, which redacting would cut out of the id its lines are found by.
_HEX_ID = re.compile(
    r"(?<![0-9A-Fa-f-])"
    r"([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|[0-9A-Fa-f]{32})"
    r"(?![0-9A-Fa-f-])"
)
# name = value, name: value, "name": "value", name=value& ... for names that hold secrets.
_SENSITIVE_FIELDS = (
    r"cvc|cvv|cvv2|cvc2|security_code|card_number|password|passwd|secret|secret_key|"
    r"token|api_key|apikey|hash_key|hashkey|hash_iv|hashiv|authorization|access_key|"
    r"aws_secret_access_key|checkmacvalue"
)
_SECRET_VALUE = re.compile(
    rf"""(?ix)
    (?P<name>["']?\b(?:\w*_)?(?:{_SENSITIVE_FIELDS})\b["']?\s*[:=]\s*)
    (?P<value>"[^"]*"|'[^']*'|(?:Token|Bearer|Basic)\s+[^\s,&;"']+|[^\s,&;"'}}]+)
    """
)
# A request id from a caller or load balancer is kept only if it is this tame.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def redact(text: str) -> str:
    """`text` without card numbers (any Luhn-valid run of 13 to 19 digits outside a UUID or a
    hex id) or secret values."""
    text = _SECRET_VALUE.sub(_redact_value, text)
    # split() keeps the ids it splits on at the odd places.
    parts = _HEX_ID.split(text)
    return "".join(
        part if place % 2 else _CARD_NUMBER.sub(_redact_card_number, part)
        for place, part in enumerate(parts)
    )


def _redact_value(match: re.Match[str]) -> str:
    value = match.group("value")
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group('name')}{quote}{REDACTED}{quote}"


def _redact_card_number(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return REDACTED if _luhn_valid(digits) else match.group()


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


class RedactFilter(logging.Filter):
    """Redacts the record in place: the formatted message replaces msg and args, and the
    traceback is formatted and redacted now, before any handler can write it as it was."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        # Formatted and redacted above: a formatter must not format the original again.
        record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class ContextFilter(logging.Filter):
    """Puts the request id, task id and payment id of the moment on the record (None if none),
    and the trace and span it was written in while tracing is on (core/tracing.py)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        record.task_id = _task_id.get()
        record.payment_id = _payment_id.get()
        ids = current_trace_ids()
        record.trace_id, record.span_id = ids if ids else (None, None)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("request_id", "task_id", "payment_id", "trace_id", "span_id"):
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        # Numbers a log-based metric reads (extra={"measurements": {...}}): fields of their
        # own, so a CloudWatch metric filter takes `$.name` without parsing the message.
        measurements = getattr(record, "measurements", None)
        if isinstance(measurements, dict):
            for name, value in measurements.items():
                if isinstance(value, int | float) and name not in line:
                    line[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


def bind_payment(payment_id: int) -> None:
    """Say which payment the rest of this request or task is about, for its log lines."""
    _payment_id.set(payment_id)


class RequestIdMiddleware:
    """Gives every request an id (the caller's or the load balancer's X-Request-ID if it is
    tame, a new one otherwise), on its log lines and in the answer's X-Request-ID header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.headers.get("X-Request-ID", "")
        request_id = offered if _REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        tokens = (_request_id.set(request_id), _payment_id.set(None))
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(tokens[0])
            _payment_id.reset(tokens[1])
        response["X-Request-ID"] = request_id
        return response


# What a task's run replaced, to put back after it: an eager task runs inside a request.
_before_task: dict[str, tuple[str | None, int | None]] = {}


@task_prerun.connect
def _bind_task(task_id: str, task: Any, args: tuple[Any, ...], **kwargs: Any) -> None:
    _before_task[task_id] = (_task_id.get(), _payment_id.get())
    _task_id.set(task_id)
    # The pipeline's tasks take the payment's id first (payments/tasks.py).
    if task.name.startswith("payments.tasks.payment_") and args and isinstance(args[0], int):
        _payment_id.set(args[0])


@task_postrun.connect
def _unbind_task(task_id: str, **kwargs: Any) -> None:
    task_before, payment_before = _before_task.pop(task_id, (None, None))
    _task_id.set(task_before)
    _payment_id.set(payment_before)
