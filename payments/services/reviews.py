"""What staff do to a payment that needs a person: say it is reviewed, note what they found,
resolve a discrepancy, and leave a trace of what they took away (an export). Always with who."""

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.exceptions import DomainError
from payments.models import Payment, PaymentEvent, ReconciliationDiscrepancy


class ReasonRequired(DomainError):
    code = "reason_required"
    default_message = "Say why: the timeline keeps it."


def payment_mark_reviewed(*, payment_id: int, actor: User, reason: str) -> Payment:
    """Take a payment out of the review queue, saying why, on its timeline. Locks the payment.

    A payment that needs no review is left alone and gets no event. `needs_review` is a flag,
    not a status: the payment's status does not change.
    """
    if not reason.strip():
        raise ReasonRequired()
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if not payment.needs_review:
            return payment
        payment.needs_review = False
        payment.save(update_fields=["needs_review", "updated_at"])
        PaymentEvent.objects.create(
            payment=payment, type="reviewed", data={"reason": reason}, actor=actor
        )
    return payment


# A note is for a person to read on the timeline, not a document.
NOTE_MAX_LENGTH = 2000


def payment_note_add(*, payment_id: int, actor: User, text: str) -> PaymentEvent:
    """Add a member of staff's note to a payment's timeline (`staff_note`: who, when, what).
    Changes nothing else about the payment. Raises `ReasonRequired` for an empty note."""
    text = text.strip()
    if not text:
        raise ReasonRequired("Write the note: an empty one says nothing.")
    return PaymentEvent.objects.create(
        payment_id=payment_id, type="staff_note", data={"note": text[:NOTE_MAX_LENGTH]}, actor=actor
    )


def discrepancy_resolve(
    *, discrepancy_id: int, actor: User, resolution: str
) -> ReconciliationDiscrepancy:
    """Mark a reconciliation discrepancy resolved by `actor`, saying how; once (a repeat is a
    no-op). Also an event on the payment's timeline."""
    if not resolution.strip():
        raise ReasonRequired()
    with transaction.atomic():
        discrepancy = ReconciliationDiscrepancy.objects.select_for_update().get(pk=discrepancy_id)
        if discrepancy.resolved_at is not None:
            return discrepancy
        discrepancy.resolved_by = actor
        discrepancy.resolved_at = timezone.now()
        discrepancy.resolution = resolution
        discrepancy.save(update_fields=["resolved_by", "resolved_at", "resolution"])
        PaymentEvent.objects.create(
            payment_id=discrepancy.payment_id,
            type="discrepancy_resolved",
            data={"kind": discrepancy.kind, "resolution": resolution},
            actor=actor,
        )
    return discrepancy


def payments_staff_event_record(
    *, payment_ids: Iterable[int], type: str, actor: User, data: Mapping[str, Any]
) -> None:
    """Write the same staff event on several payments' timelines (an export: who took what)."""
    PaymentEvent.objects.bulk_create(
        PaymentEvent(payment_id=payment_id, type=type, data=dict(data), actor=actor)
        for payment_id in payment_ids
    )
