"""Replaying a stored gateway callback: processing it again through the same code as when it
arrived, for staff (the admin's "Replay" action, `manage.py replay_callback`)."""

from dataclasses import dataclass

from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction

from accounts.models import User
from gateways.models import CallbackOutcome, Gateway, GatewayCallback
from payments.ecpay.notifications import ecpay_notification_accept
from payments.services import payment_event_record
from payments.wallet.callbacks import wallet_callback_receive


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
    wallet_callback_receive(
        callback=callback,
        body=callback.body.encode(),
        signature=callback.headers.get("X-Signature"),
        timestamp=callback.headers.get("X-Timestamp"),
        # The signature had to be fresh when the callback arrived, not now: our own record of
        # its arrival stands in for the clock, so a replay is judged like the original.
        now=callback.created_at.timestamp(),
    )
