from datetime import timedelta

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from gateways.models import CallbackOutcome, GatewayCallback, GatewaySwitch

# Paused by staff or by the gateway's circuit breaker: either way its payments wait.
_PAUSED = Q(paused=True) | Q(tripped_at__isnull=False)


def gateway_is_paused(gateway: str) -> bool:
    return GatewaySwitch.objects.filter(_PAUSED, gateway=gateway).exists()


def gateways_paused() -> list[str]:
    return list(GatewaySwitch.objects.filter(_PAUSED).values_list("gateway", flat=True))


def gateways_to_probe(*, every: timedelta) -> list[str]:
    """Gateways their breaker paused, and staff did not, not asked for `every`: a probe may
    close their breaker."""
    due = timezone.now() - every
    return list(
        GatewaySwitch.objects.filter(tripped_at__lte=due, paused=False)
        .filter(Q(probed_at__isnull=True) | Q(probed_at__lte=due))
        .values_list("gateway", flat=True)
    )


def gateway_queries_blocked(gateway: str) -> bool:
    """Whether the gateway asked us to stop querying it for now (ECPay's 403)."""
    return GatewaySwitch.objects.filter(
        gateway=gateway, queries_blocked_until__gt=timezone.now()
    ).exists()


def callbacks_left_waiting(*, gateway: str, older_than: timedelta) -> bool:
    """Whether any of the gateway's callbacks stored in the last week is still not applied after
    `older_than`: its task was lost (the broker was down) or kept failing.

    Served by the index on (outcome, created_at): few callbacks stay received for long.
    """
    return callbacks_waiting(gateway).filter(created_at__lt=timezone.now() - older_than).exists()


def callback_queued_behind_another(callback: GatewayCallback, *, stored_within: timedelta) -> bool:
    """Whether a signed callback of the same gateway stored before `callback` (an earlier
    created_at), in the last `stored_within`, is still waiting to be applied. Unsigned ones do
    not count: nothing anyone can send holds a gateway's callback back.

    Only earlier ones count, so of two callbacks stored at once at least one finds none: "behind
    another" never goes round in a circle (two stored in the same microsecond both find none).

    Written in SQL, because every ECPay notification's request asks it: the ORM spent 0.8 ms of
    CPU building the statement, five times what sending it and reading the answer cost
    (bench/RESULTS.md). One range of the index on (outcome, created_at).
    """
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM gateways_gatewaycallback"
            " WHERE outcome = %s AND created_at >= %s AND created_at < %s AND gateway = %s"
            " AND signature_valid = %s LIMIT 1",
            [
                CallbackOutcome.RECEIVED.value,
                adapt(timezone.now() - stored_within),
                adapt(callback.created_at),
                callback.gateway,
                True,
            ],
        )
        return cursor.fetchone() is not None


def callback_awaiting_apply(*, gateway: str, external_reference: str) -> bool:
    """Whether a signed callback about `external_reference` was stored and is still waiting for
    its worker (or for the sweep, within the same week `callbacks_left_waiting` looks at).
    Unsigned ones do not count: anyone can name a payment, and nobody may hold one up."""
    return (
        callbacks_waiting(gateway)
        .filter(external_reference=external_reference, signature_valid=True)
        .exists()
    )


def callbacks_waiting(gateway: str) -> QuerySet[GatewayCallback]:
    """The gateway's callbacks stored and not yet applied, in the last week, oldest first: older
    ones are for staff to replay, not for a drain or a sweep to retry or for a payment to wait
    on. In the index on (outcome, created_at) order, so the oldest is its first entry."""
    return GatewayCallback.objects.filter(
        gateway=gateway,
        outcome=CallbackOutcome.RECEIVED,
        created_at__gte=timezone.now() - timedelta(days=7),
    ).order_by("created_at", "pk")
