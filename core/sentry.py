"""Errors to Sentry, when SENTRY_DSN is set, with nothing in them the logs would not show.

sentry-sdk with its Django and Celery integrations reports unhandled errors of requests and
tasks, and ERROR log lines. What it sends goes through `scrub` first: every string of the event
is redacted as log lines are (`core.logging.redact`: card numbers, name=value secrets), the
values of fields named like secrets are replaced, and so is any configured secret's value
wherever it appears. It is never given what it cannot be trusted to scrub: request bodies,
local variables, cookies, users' addresses (`send_default_pii` off).

`tests/core/test_sentry.py` sends events to a Sentry stand-in and reads what arrives.
"""

import re
from collections.abc import Iterable
from typing import Any

from core.logging import REDACTED, redact

# Keys whose value is a secret whatever it looks like (headers, form fields, extra data).
_SECRET_KEY_NAME = re.compile(
    r"(?i)(authorization|cookie|password|passwd|secret|token|api[_-]?key|hash[_-]?(key|iv)|"
    r"cvc|cvv|card[_-]?number|checkmacvalue|x-signature|dsn|session)"
)


class Scrubber:
    """Redacts an event in place; `secrets` are values to take out wherever they appear."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is replaced whole; short values
        # (an empty setting, "0") would take ordinary text out with them.
        self.secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, REDACTED)
        return redact(value)

    def value(self, value: Any, key: str = "") -> Any:
        if key and _SECRET_KEY_NAME.search(key) and isinstance(value, str | bytes | int):
            return REDACTED
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            # Headers arrive as [name, value] pairs.
            if len(value) == 2 and isinstance(value[0], str) and _SECRET_KEY_NAME.search(value[0]):
                return [value[0], REDACTED]
            return [self.value(item) for item in value]
        return value


def sentry_init(*, dsn: str, environment: str, release: str, secrets: Iterable[str]) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    scrubber = Scrubber(secrets)

    def before_send(event: Any, hint: Any) -> Any:
        return scrubber.value(event)

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        # What it cannot be trusted to scrub is never collected: a form's card number, a
        # frame's local `card`, a session cookie.
        max_request_body_size="never",
        include_local_variables=False,
        # Errors only: tracing is OpenTelemetry's.
        traces_sample_rate=0.0,
        before_send=before_send,
        before_send_transaction=before_send,
        before_breadcrumb=lambda crumb, hint: scrubber.value(crumb),
    )
