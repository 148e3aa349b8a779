"""The gateways' circuit breakers (seed 002's "restrict automatically").

A gateway that keeps failing transiently (timeouts, 5xx) is paused by itself: after
GATEWAY_BREAKER_FAILURES such failures within GATEWAY_BREAKER_WINDOW_SECONDS its payments wait in
the pipeline instead of spending their retries against it, and staff are told (an email to the
managers, an error in the log, the admin's gateway switches). Every
GATEWAY_BREAKER_PROBE_SECONDS a probe asks the gateway something harmless; once it answers, the
breaker closes, the waiting payments go on, and staff are told again. Staff's own pause wins: a
probe never unpauses a gateway staff paused, and staff's unpause closes the breaker.

The pipeline's transient failures come from the card provider (the balance has no gateway;
ECPay and the wallets report to us): it is the gateway counted and probed.
"""

import logging
import uuid
from datetime import timedelta

from django.conf import settings

from gateways.base import GatewayError, OutcomeUnknownError, TransientGatewayError
from gateways.card import get_card_gateway
from gateways.models import Gateway
from gateways.selectors import gateways_to_probe
from gateways.services import gateway_count_transient_failure, gateway_probed
from notifications.staff import staff_alert
from payments.models import Payment

logger = logging.getLogger(__name__)


def breaker_count_failure(*, payment_id: int, error: TransientGatewayError) -> bool:
    """Count a transient failure of `payment_id`'s gateway; returns whether it tripped the
    gateway's breaker (staff are then told)."""
    gateway = Payment.objects.values_list("gateway", flat=True).get(pk=payment_id)
    tripped = gateway_count_transient_failure(
        gateway=gateway,
        threshold=settings.GATEWAY_BREAKER_FAILURES,
        window=timedelta(seconds=settings.GATEWAY_BREAKER_WINDOW_SECONDS),
    )
    if tripped:
        label = Gateway(gateway).label
        logger.error(
            "%s paused by its circuit breaker: %s transient failures within %s s (last: %s)",
            label,
            settings.GATEWAY_BREAKER_FAILURES,
            settings.GATEWAY_BREAKER_WINDOW_SECONDS,
            error.code,
        )
        staff_alert(
            subject=f"{label} paused by its circuit breaker",
            message=(
                f"{settings.GATEWAY_BREAKER_FAILURES} transient failures of {label} within "
                f"{settings.GATEWAY_BREAKER_WINDOW_SECONDS} seconds (the last: {error.code}). "
                "Its payments wait in the pipeline; none fails for it. It is probed every "
                f"{settings.GATEWAY_BREAKER_PROBE_SECONDS} seconds and resumes by itself once "
                "it answers. To keep it paused whatever the probe finds, pause it in the "
                "admin (Gateways, Gateway switches); unpausing there resumes it at once."
            ),
        )
    return tripped


def breakers_probe() -> list[str]:
    """Probe every gateway its breaker paused and was not probed lately; close the breaker of
    each that answers. Returns the gateways resumed."""
    resumed = []
    every = timedelta(seconds=settings.GATEWAY_BREAKER_PROBE_SECONDS)
    for gateway in gateways_to_probe(every=every):
        if gateway_probed(gateway=gateway, answered=_answers(gateway)):
            label = Gateway(gateway).label
            logger.warning("%s answers again: its circuit breaker closed", label)
            staff_alert(
                subject=f"{label} resumed",
                message=f"{label} answered a probe: its circuit breaker closed, and the "
                "payments that waited for it go on.",
            )
            resumed.append(gateway)
    return resumed


def _answers(gateway: str) -> bool:
    """Whether the gateway answers at all: asked about a charge that was never made (a read,
    harmless). Any answer, "no such charge" or a refusal, is an answer."""
    if gateway != Gateway.CARD:
        return True  # nothing of ours calls it from the pipeline: nothing to wait for
    try:
        get_card_gateway().find_charge(f"probe-{uuid.uuid4().hex}")
    except (TransientGatewayError, OutcomeUnknownError):
        return False
    except GatewayError:  # a refusal, a malformed answer: it answered
        return True
    return True
