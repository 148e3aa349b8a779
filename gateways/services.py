"""Every write to gateway state kept here: the inbound callbacks and the pause switches."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from gateways.base import BadSignatureError
from gateways.models import CallbackOutcome, Gateway, GatewayCallback, GatewaySwitch
from gateways.wallet import MalformedCallback, callback_secret, parse_callback, verify_signature


def gateway_set_paused(
    *, gateway: str, paused: bool, by: User | None, reason: str = ""
) -> GatewaySwitch:
    """Pause or unpause a gateway. Paused, its payments wait in the pipeline; none fails for it."""
    switch, _ = GatewaySwitch.objects.update_or_create(
        gateway=gateway, defaults={"paused": paused, "changed_by": by, "reason": reason}
    )
    return switch


def callback_record(
    *,
    gateway: str,
    body: str,
    content_type: str,
    headers: Mapping[str, str],
    remote_addr: str | None,
    external_reference: str = "",
) -> GatewayCallback:
    """Store a callback exactly as it arrived, before anything is done with it.

    `external_reference` is what the callback claims to be about, unverified: enough for
    `callback_awaiting_apply` to see a notification on its way. Settling the callback
    replaces it with the verified one (or blanks it, for a forgery).
    """
    return GatewayCallback.objects.create(
        gateway=gateway,
        external_reference=external_reference[:64],
        body=body,
        content_type=content_type[:128],
        headers=dict(headers),
        remote_addr=remote_addr,
    )


def callback_settle(
    *,
    callback_id: int,
    outcome: str,
    reason: str = "",
    signature_valid: bool | None = None,
    payment_id: int | None = None,
    external_reference: str = "",
) -> None:
    """Record what a callback turned out to be: accepted, a duplicate, or rejected and why."""
    if outcome == CallbackOutcome.RECEIVED:
        raise ValueError("A settled callback is accepted, a duplicate or rejected.")
    GatewayCallback.objects.filter(pk=callback_id).update(
        outcome=outcome,
        outcome_reason=reason[:255],
        signature_valid=signature_valid,
        payment_id=payment_id,
        external_reference=external_reference[:64],
        processed_at=timezone.now(),
    )


def gateway_block_queries(*, gateway: str, until: datetime) -> None:
    """Stop querying the gateway until `until` (it answered that we ask too often)."""
    GatewaySwitch.objects.update_or_create(
        gateway=gateway, defaults={"queries_blocked_until": until}
    )


@dataclass(frozen=True)
class CallbackReplay:
    callback: GatewayCallback
    # What the callback had been settled as before the replay.
    previous_outcome: str
    # False when it was accepted already: an accepted callback has been applied, and is not
    # applied again.
    replayed: bool


def callback_replay(*, callback_id: int, actor: User) -> CallbackReplay:
    """Process a stored callback again, exactly as the callback view did when it arrived.

    For a callback that was rejected (a payment it named did not exist yet, a secret was
    misconfigured) or never settled (its processing crashed). An accepted callback is left
    alone, so replaying twice applies it at most once; the payment code underneath is
    idempotent too (a payment already moved makes the callback a duplicate). The callback row is
    locked for the replay, so two staff replaying it at once take turns. Who replayed it, and
    what it was before, goes to the callback's admin history and the linked payment's timeline.

    Raises GatewayCallback.DoesNotExist for an unknown id, ValueError for a gateway that sends
    no callbacks.
    """
    # Imported here: the payments modules that act on callbacks import this module themselves.
    from payments.ecpay.notifications import ecpay_notification_accept
    from payments.services import payment_event_record

    with transaction.atomic():
        callback = GatewayCallback.objects.select_for_update().get(pk=callback_id)
        previous = callback.outcome
        if previous == CallbackOutcome.ACCEPTED:
            return CallbackReplay(callback=callback, previous_outcome=previous, replayed=False)
        if callback.gateway == Gateway.ECPAY:
            ecpay_notification_accept(callback=callback)
        elif callback.gateway in (Gateway.WALLET, Gateway.BANK_APP):
            _wallet_callback_replay(callback)
        else:
            raise ValueError(f"No callback view for {callback.gateway}: nothing to replay.")
        callback.refresh_from_db()
        message = f"Replayed: was {previous}, now {callback.outcome}"
        if callback.outcome_reason:
            message += f" ({callback.outcome_reason})"
        LogEntry.objects.log_actions(
            user_id=actor.pk,
            queryset=GatewayCallback.objects.filter(pk=callback.pk),
            action_flag=CHANGE,
            change_message=message,
            single_object=True,
        )
        if callback.payment_id is not None:
            payment_event_record(
                payment_id=callback.payment_id,
                type="callback_replayed",
                data={
                    "callback": callback.pk,
                    "by": actor.email,
                    "was": previous,
                    "now": callback.outcome,
                },
            )
    return CallbackReplay(callback=callback, previous_outcome=previous, replayed=True)


def _wallet_callback_replay(callback: GatewayCallback) -> None:
    """The wallet callback view's steps (verify, parse, accept) on the stored request."""
    from payments.wallet.callbacks import wallet_callback_accept

    body = callback.body.encode()
    try:
        verify_signature(
            secret=callback_secret(callback.gateway),
            body=body,
            signature=callback.headers.get("X-Signature"),
            timestamp=callback.headers.get("X-Timestamp"),
            # The signature had to be fresh when the callback arrived, not now: our own record
            # of its arrival stands in for the clock, so a replay is judged like the original.
            now=callback.created_at.timestamp(),
        )
    except BadSignatureError as error:
        callback_settle(
            callback_id=callback.pk,
            outcome=CallbackOutcome.REJECTED,
            reason=str(error),
            signature_valid=False,
        )
        return
    try:
        parsed = parse_callback(body)
    except MalformedCallback as error:
        callback_settle(
            callback_id=callback.pk,
            outcome=CallbackOutcome.REJECTED,
            reason=str(error),
            signature_valid=True,
        )
        return
    wallet_callback_accept(callback_id=callback.pk, gateway=callback.gateway, callback=parsed)
