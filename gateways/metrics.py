"""What calling a gateway costs and how it ends, per gateway and operation (core/metrics.py
serves it). Every outbound call that moves or asks about money goes through `measured`."""

import functools
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from prometheus_client import Counter, Histogram

from core.metrics import LATENCY_BUCKETS
from gateways.base import (
    BadSignatureError,
    OutcomeUnknownError,
    PaymentDeclinedError,
    PermanentGatewayError,
    TransientGatewayError,
)

gateway_calls = Counter(
    "payments_gateway_calls_total",
    "Calls to a gateway, by gateway, operation and how they ended: ok, declined, transient "
    "(never reached it: safe to send again), outcome_unknown (may have taken effect), "
    "permanent (refused), bad_signature (its answer did not verify), error (our bug).",
    ["gateway", "operation", "outcome"],
)
gateway_call_duration = Histogram(
    "payments_gateway_call_duration_seconds",
    "Time a call to a gateway took, answered or not.",
    ["gateway", "operation"],
    buckets=LATENCY_BUCKETS,
)

# Most specific first: a decline is a permanent error too.
_OUTCOMES: tuple[tuple[type[BaseException], str], ...] = (
    (PaymentDeclinedError, "declined"),
    (OutcomeUnknownError, "outcome_unknown"),
    (TransientGatewayError, "transient"),
    (BadSignatureError, "bad_signature"),
    (PermanentGatewayError, "permanent"),
)

P = ParamSpec("P")
R = TypeVar("R")


def call_outcome(error: BaseException | None) -> str:
    if error is None:
        return "ok"
    return next((name for kind, name in _OUTCOMES if isinstance(error, kind)), "error")


def measured(gateway: str, operation: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Count and time each call of the decorated function as one call to `gateway`."""

    def decorate(call: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(call)
        def measured_call(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            error: BaseException | None = None
            try:
                return call(*args, **kwargs)
            except BaseException as raised:
                error = raised
                raise
            finally:
                gateway_call_duration.labels(gateway, operation).observe(
                    time.perf_counter() - started
                )
                gateway_calls.labels(gateway, operation, call_outcome(error)).inc()

        return measured_call

    return decorate


callbacks_received = Counter(
    "payments_callbacks_received_total",
    "Callbacks stored as they arrived, by gateway (signed or not).",
    ["gateway"],
)
callbacks_settled = Counter(
    "payments_callbacks_total",
    "Callbacks settled, by gateway, outcome (accepted, duplicate, rejected) and, for a "
    "rejection, why: bad_signature (forged, or a key rotated on one side only), crashed (our "
    "bug), refused (verified, and not applicable: an unknown payment, a wrong amount ...).",
    ["gateway", "outcome", "reason"],
)
callbacks_refused_unstored = Counter(
    "payments_callbacks_refused_unstored_total",
    "Callbacks refused before they were stored, by gateway and reason: too_large, throttled "
    "(an unsigned sender past its rate), malformed.",
    ["gateway", "reason"],
)


def callback_reason(*, outcome: str, reason: str, signature_valid: bool | None) -> str:
    """A bounded name for why a callback was settled as it was (its reason is free text)."""
    if outcome != "rejected":
        return "none"
    if signature_valid is False:
        return "bad_signature"
    if reason.startswith("processing crashed"):
        return "crashed"
    return "refused"
