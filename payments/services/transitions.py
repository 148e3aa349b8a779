"""A payment's one transition function, and its timeline.

`payment_transition` is the only way a payment's status changes (a test checks it): it locks the
row, refuses a move `PAYMENT_TRANSITIONS` does not allow, treats a repeated move as a no-op and
writes the event. Lock order, everywhere: a payment row, then its order's row, then its user's.
"""

import functools
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.transitions import check_locked, transition_needed
from payments.metrics import (
    counted_on_commit,
    payment_completion,
    payment_dead_letters,
    payment_transitions,
)
from payments.models import (
    CLAIM_STATUSES,
    PAYMENT_TRANSITIONS,
    Payment,
    PaymentEvent,
    PaymentStatus,
)

# Fields a transition may set together with the status, in the same locked save.
# `claimed_order_id` only to take the order's claim again (a reprocessed dead letter) or to let
# go of it (a failure that moved no money): every other move keeps or drops it by itself.
_TRANSITION_FIELDS = frozenset(
    {"failure_reason", "gateway_reference", "refunded_amount", "needs_review", "claimed_order_id"}
)


def payment_transition(
    *,
    payment_id: int,
    to: str,
    event: str,
    data: Mapping[str, Any] | None = None,
    is_error: bool = False,
    actor: User | None = None,
    changes: Mapping[str, Any] | None = None,
    locked: Payment | None = None,
) -> Payment:
    """Move a payment to status `to`: the only code that changes `Payment.status`.

    Locks the payment row for the whole change. A repeat of a move already made (the payment is
    already in `to`) is a no-op and writes nothing, so redelivered tasks and duplicate callbacks
    are harmless. A move the transition table does not allow raises `IllegalTransition` and
    saves nothing. `changes` sets other fields in the same save (see `_TRANSITION_FIELDS`).

    `locked` is the payment's row as a caller already holding its lock read it (select_for_update,
    in the transaction still open): the move is made on it, without locking and reading it again
    in a savepoint of its own, which on the hot paths (a notification, completing a payment) is
    three statements in ten.
    """
    changes = dict(changes or {})
    unknown = set(changes) - _TRANSITION_FIELDS
    if unknown:
        raise ValueError(f"payment_transition cannot set {sorted(unknown)}")
    if locked is not None:
        check_locked(locked, pk=payment_id, what="payment")
        return _payment_move(locked, to, event, data, is_error, actor, changes)
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        return _payment_move(payment, to, event, data, is_error, actor, changes)


def _payment_move(
    payment: Payment,
    to: str,
    event: str,
    data: Mapping[str, Any] | None,
    is_error: bool,
    actor: User | None,
    changes: Mapping[str, Any],
) -> Payment:
    # Under the payment's row lock (payment_transition).
    from_status = payment.status
    if not transition_needed(PAYMENT_TRANSITIONS, what="payment", from_status=from_status, to=to):
        return payment
    payment.status = to
    for field, value in changes.items():
        setattr(payment, field, value)
    update_fields = ["status", "updated_at", *changes]
    if to not in CLAIM_STATUSES and payment.claimed_order_id is not None:
        # Cancelled, expired, credited: the order is free for another payment.
        payment.claimed_order_id = None
        update_fields.append("claimed_order_id")
    if to == PaymentStatus.COMPLETED:
        payment.completed_at = timezone.now()
        update_fields.append("completed_at")
    payment.save(update_fields=update_fields)
    PaymentEvent.objects.create(
        payment=payment,
        type=event,
        from_status=from_status,
        to_status=to,
        data=dict(data or {}),
        is_error=is_error,
        actor=actor,
    )
    # What this move was, read now: a later move of the same object in the same transaction
    # must not change what this one counts.
    took = (
        (payment.completed_at - payment.created_at).total_seconds()
        if to == PaymentStatus.COMPLETED and payment.completed_at is not None
        else None
    )
    dead_letter = to == PaymentStatus.FAILED and payment.needs_review
    counted_on_commit(
        functools.partial(_count_move, payment.gateway, payment.method, to, took, dead_letter)
    )
    return payment


def _count_move(gateway: str, method: str, to: str, took: float | None, dead_letter: bool) -> None:
    payment_transitions.labels(gateway, method, to).inc()
    if took is not None:
        payment_completion.labels(gateway).observe(took)
    if dead_letter:
        payment_dead_letters.labels(gateway).inc()


def payment_event_record(
    *,
    payment_id: int,
    type: str,
    data: Mapping[str, Any] | None = None,
    is_error: bool = False,
    actor: User | None = None,
) -> PaymentEvent:
    """Write a timeline event that changes no status (a step ran, an attempt was made); `actor`
    is the member of staff who caused it, if one did."""
    return PaymentEvent.objects.create(
        payment_id=payment_id, type=type, data=dict(data or {}), is_error=is_error, actor=actor
    )


def payment_event_record_once(
    *,
    payment_id: int,
    type: str,
    data: Mapping[str, Any],
    same: Mapping[str, Any] | None = None,
) -> bool:
    """Write a timeline event unless the payment has one of `type` already (one whose data hold
    `same`, given it); returns whether this call wrote it. Two callers at once (a redelivered
    task beside the first) write it once: the payment's row lock orders them."""
    with transaction.atomic():
        Payment.objects.select_for_update().only("pk").get(pk=payment_id)
        matching = {f"data__{field}": value for field, value in (same or {}).items()}
        if PaymentEvent.objects.filter(payment_id=payment_id, type=type, **matching).exists():
            return False
        payment_event_record(payment_id=payment_id, type=type, data=data)
    return True


def payment_flag_for_review(
    *, payment_id: int, reason: str, data: Mapping[str, Any] | None = None
) -> None:
    """Ask a person to look at a payment, whatever its status, and say why on the timeline."""
    with transaction.atomic():
        Payment.objects.filter(pk=payment_id).update(needs_review=True, updated_at=timezone.now())
        payment_event_record(
            payment_id=payment_id,
            type="flagged_for_review",
            data={"reason": reason, **(data or {})},
        )
