"""Every write to gateway state kept here: the inbound callbacks and the pause switches."""

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from gateways.metrics import callback_reason, callbacks_received, callbacks_settled
from gateways.models import CallbackOutcome, GatewayCallback, GatewaySwitch

logger = logging.getLogger(__name__)


def gateway_set_paused(
    *, gateway: str, paused: bool, by: User | None, reason: str = ""
) -> GatewaySwitch:
    """Pause or unpause a gateway. Paused, its payments wait in the pipeline; none fails for it.

    Staff's word is final: unpausing also closes the gateway's circuit breaker.
    """
    defaults: dict[str, object] = {"paused": paused, "changed_by": by, "reason": reason}
    if not paused:
        defaults |= {"tripped_at": None, "failures": 0, "failures_since": None}
    switch, _ = GatewaySwitch.objects.update_or_create(gateway=gateway, defaults=defaults)
    return switch


def gateway_count_transient_failure(*, gateway: str, threshold: int, window: timedelta) -> bool:
    """Count one transient failure of `gateway` (a timeout, a 5xx); trip its circuit breaker
    when this is the `threshold`th within `window`. Returns whether this one tripped it.

    Under the switch's row lock, so failures on many workers at once count once each and trip
    it once. A gateway already paused (by staff, or tripped) counts nothing.
    """
    now = timezone.now()
    # Made (if it is the first) before the locking transaction: a row another worker inserted
    # at the same moment is then committed, and the lock below finds it.
    GatewaySwitch.objects.get_or_create(gateway=gateway)
    with transaction.atomic():
        switch = GatewaySwitch.objects.select_for_update().get(gateway=gateway)
        if switch.paused or switch.tripped_at is not None:
            return False
        if switch.failures_since is None or switch.failures_since < now - window:
            switch.failures, switch.failures_since = 0, now
        switch.failures += 1
        tripped = switch.failures >= threshold
        if tripped:
            switch.tripped_at, switch.probed_at = now, None
        switch.save(update_fields=["failures", "failures_since", "tripped_at", "probed_at"])
    return tripped


def gateway_probed(*, gateway: str, answered: bool) -> bool:
    """Record a probe of a gateway its breaker paused: answered, the breaker closes (its
    payments go on); not, it stays open until the next probe. Returns whether it closed. A
    gateway staff paused meanwhile stays paused: staff's pause wins."""
    with transaction.atomic():
        switch = GatewaySwitch.objects.select_for_update().filter(gateway=gateway).first()
        if switch is None or switch.tripped_at is None:
            return False
        switch.probed_at = timezone.now()
        if answered:
            switch.tripped_at, switch.failures, switch.failures_since = None, 0, None
        switch.save(update_fields=["probed_at", "tripped_at", "failures", "failures_since"])
    return answered


def callback_record(
    *,
    gateway: str,
    body: str,
    content_type: str,
    headers: Mapping[str, str],
    remote_addr: str | None,
    external_reference: str = "",
    signature_valid: bool | None = None,
) -> GatewayCallback:
    """Store a callback exactly as it arrived, before anything is done with it.

    `external_reference` is what the callback claims to be about, unverified: enough for
    `callback_awaiting_apply` to see a notification on its way. Settling the callback
    replaces it with the verified one (or blanks it, for a forgery). `signature_valid` is set
    when the signature could be checked before storing (a pure computation): only a signed
    callback counts as waiting for its worker (`gateways.selectors`).
    """
    callback = GatewayCallback.objects.create(
        gateway=gateway,
        external_reference=external_reference[:64],
        body=body,
        content_type=content_type[:128],
        headers=dict(headers),
        remote_addr=remote_addr,
        signature_valid=signature_valid,
    )
    # Stored in a transaction of its own (the view's autocommit): received is received.
    callbacks_received.labels(gateway).inc()
    return callback


def callback_settle(
    *,
    callback_id: int,
    gateway: str,
    outcome: str,
    reason: str = "",
    signature_valid: bool | None = None,
    payment_id: int | None = None,
    external_reference: str = "",
) -> None:
    """Record what a callback turned out to be: accepted, a duplicate, or rejected and why
    (and count it, by `gateway`, the callback's: every caller has it at hand)."""
    if outcome == CallbackOutcome.RECEIVED:
        raise ValueError("A settled callback is accepted, a duplicate or rejected.")
    updated = GatewayCallback.objects.filter(pk=callback_id).update(
        outcome=outcome,
        outcome_reason=reason[:255],
        signature_valid=signature_valid,
        payment_id=payment_id,
        external_reference=external_reference[:64],
        processed_at=timezone.now(),
    )
    if updated:
        why = callback_reason(outcome=outcome, reason=reason, signature_valid=signature_valid)
        transaction.on_commit(callbacks_settled.labels(gateway, outcome, why).inc)
        if why == "bad_signature":
            # One line each, for the deployment's alarm on bursts (deploy/service.yaml).
            logger.warning("%s callback %s refused: bad signature", gateway, callback_id)


def gateway_block_queries(*, gateway: str, until: datetime) -> None:
    """Stop querying the gateway until `until` (it answered that we ask too often)."""
    GatewaySwitch.objects.update_or_create(
        gateway=gateway, defaults={"queries_blocked_until": until}
    )


def callbacks_purge_refused(*, older_than: timedelta, batch: int = 1000) -> int:
    """Delete refused callbacks about no payment stored more than `older_than` ago (forgeries,
    junk, deliveries for trades we never had), a batch at a time so no statement
    holds many rows. Returns how many it deleted. Safe to run beside another purge."""
    cutoff = timezone.now() - older_than
    refused = GatewayCallback.objects.filter(
        outcome=CallbackOutcome.REJECTED, payment__isnull=True, created_at__lt=cutoff
    )
    deleted = 0
    # Oldest first, along the index on (outcome, created_at).
    while ids := list(refused.order_by("created_at").values_list("pk", flat=True)[:batch]):
        deleted += GatewayCallback.objects.filter(pk__in=ids).delete()[0]
    return deleted
