"""Refunds asked for by staff, with a second pair of eyes above `REFUND_APPROVAL_THRESHOLD`.

The threshold counts what the payment has already refunded and has pending, not the one refund
alone: otherwise a refund rejected (or never asked for) above it is made anyway as several below
it. While that running total stays at or below the threshold a refund is made at once
(`refund_request`, then the gateway through `refund_start`). Past it, a `RefundApproval` waits
until a second member of staff with `payments.approve_refund` (never the requester: a DB
constraint) approves it, which makes the refund, or rejects it. Each step is an event on the
payment's timeline, with who did it.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import User
from core.exceptions import DomainError, IllegalTransition
from core.models import ZERO
from payments.exceptions import RefundInProgress
from payments.models import (
    GatewayOperation,
    OperationKind,
    OperationStatus,
    Payment,
    PaymentEvent,
    RefundApproval,
    RefundApprovalStatus,
)
from payments.queue import refund_start
from payments.refunds.services import refund_check_allowed, refund_check_amount, refund_request


class RefundApprovalForbidden(DomainError):
    code = "refund_approval_forbidden"
    http_status = 403
    default_message = "A refund is approved by a second manager, never by whoever asked for it."


@dataclass(frozen=True)
class RefundAsked:
    """What asking for a refund did: made it (`refund`) or left it waiting (`approval`)."""

    refund: GatewayOperation | None = None
    approval: RefundApproval | None = None


def refund_ask(*, payment_id: int, amount: Decimal | None, reason: str, actor: User) -> RefundAsked:
    """Refund `amount` (all that is left when None) of a payment, or ask a second manager to.

    Makes the refund now if it, plus what the payment has refunded, has pending at the gateway
    and has waiting for approval (`_refunds_counted`), is at most `REFUND_APPROVAL_THRESHOLD`;
    otherwise records a waiting `RefundApproval` (after the same checks a refund gets, so nobody
    approves one that cannot be made). Locks the payment's row for the whole decision, so two
    asks at once never both count the same total. Raises what `refund_request` raises, and
    `RefundInProgress` while an approval is waiting and this refund needs one too.
    """
    if amount is not None and not isinstance(amount, Decimal):
        raise TypeError("Money is Decimal, never float.")
    with transaction.atomic():
        # The payment's row serialises asks for it: the running total below cannot change
        # between counting it and recording this refund or approval, and one approval waits at
        # a time.
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        left = payment.amount - payment.refunded_amount
        asked = left if amount is None else amount
        if asked + _refunds_counted(payment) <= settings.REFUND_APPROVAL_THRESHOLD:
            refund = refund_request(
                payment_id=payment_id, amount=amount, reason=reason, actor=actor
            )
            refund_start(refund.pk)
            return RefundAsked(refund=refund)
        refund_check_allowed(payment)
        refund_check_amount(asked, left=left, currency=payment.currency)
        waiting = RefundApproval.objects.filter(
            payment_id=payment_id, status=RefundApprovalStatus.REQUESTED
        )
        if waiting.exists():
            raise RefundInProgress("A refund of this payment is waiting for approval.")
        approval = RefundApproval.objects.create(
            payment=payment, amount=amount, reason=reason[:255], requested_by=actor
        )
        _event(
            approval,
            type="refund_approval_requested",
            actor=actor,
            data={"amount": _amount(approval), "reason": reason},
        )
    return RefundAsked(approval=approval)


def _refunds_counted(payment: Payment) -> Decimal:
    """What the threshold counts besides the refund asked for: what `payment` has refunded, what
    is pending at the gateway (a refund whose outcome is unknown may have been made) and what
    waits for approval (a request for all that is left counts as all that is left). Call with
    the payment's row locked."""
    pending: Decimal | None = GatewayOperation.objects.filter(
        payment_id=payment.pk,
        kind=OperationKind.REFUND,
        status__in=[OperationStatus.PENDING, OperationStatus.UNKNOWN],
    ).aggregate(total=Sum("amount"))["total"]
    waiting_amounts = RefundApproval.objects.filter(
        payment_id=payment.pk, status=RefundApprovalStatus.REQUESTED
    ).values_list("amount", flat=True)
    left = payment.amount - payment.refunded_amount
    waiting = sum((left if amount is None else amount for amount in waiting_amounts), ZERO)
    counted: Decimal = payment.refunded_amount + (pending or ZERO) + waiting
    return counted


def refund_approve(*, approval_id: int, actor: User, note: str = "") -> GatewayOperation:
    """Approve a waiting refund and make it (`refund_request` + `refund_start`), atomically.

    Never asks for approval again: the second manager's approval is the one the threshold asks
    for, however the payment's refunds have added up since.

    The actor must hold `payments.approve_refund` and not be the requester
    (`RefundApprovalForbidden`); a request decided already raises `IllegalTransition`. Raises
    what `refund_request` raises if the refund can no longer be made; then nothing changes.
    """
    with transaction.atomic():
        approval = _refund_approval_decide(
            approval_id, actor=actor, to=RefundApprovalStatus.APPROVED, note=note
        )
        refund = refund_request(
            payment_id=approval.payment_id,
            amount=approval.amount,
            reason=approval.reason,
            actor=approval.requested_by,
        )
        approval.operation = refund
        approval.save(update_fields=["operation", "updated_at"])
        _event(
            approval,
            type="refund_approved",
            actor=actor,
            data={"refund": refund.idempotency_key, "amount": str(refund.amount), "note": note},
        )
        refund_start(refund.pk)
    return refund


def refund_reject(*, approval_id: int, actor: User, note: str) -> RefundApproval:
    """Reject a waiting refund: nothing is refunded. Same rules on who decides as approving."""
    with transaction.atomic():
        approval = _refund_approval_decide(
            approval_id, actor=actor, to=RefundApprovalStatus.REJECTED, note=note
        )
        _event(approval, type="refund_rejected", actor=actor, data={"note": note})
    return approval


def _refund_approval_decide(approval_id: int, *, actor: User, to: str, note: str) -> RefundApproval:
    # Lock order as everywhere: the payment's row first, then the approval's.
    payment_id = RefundApproval.objects.values_list("payment_id", flat=True).get(pk=approval_id)
    Payment.objects.select_for_update().only("pk").get(pk=payment_id)
    approval = RefundApproval.objects.select_for_update().get(pk=approval_id)
    if not actor.has_perm("payments.approve_refund"):
        raise RefundApprovalForbidden("Approving refunds needs the approve_refund permission.")
    if approval.requested_by_id == actor.pk:
        raise RefundApprovalForbidden()
    if approval.status != RefundApprovalStatus.REQUESTED:
        raise IllegalTransition(
            f"This refund request is {approval.status} already.",
            from_status=approval.status,
            to_status=to,
        )
    approval.status = to
    approval.decided_by = actor
    approval.decided_at = timezone.now()
    approval.decision_note = note
    approval.save(
        update_fields=["status", "decided_by", "decided_at", "decision_note", "updated_at"]
    )
    return approval


def _amount(approval: RefundApproval) -> str:
    return "all that is left" if approval.amount is None else str(approval.amount)


def _event(
    approval: RefundApproval, *, type: str, actor: User, data: Mapping[str, Any]
) -> PaymentEvent:
    return PaymentEvent.objects.create(
        payment_id=approval.payment_id,
        type=type,
        data={"approval": approval.pk, **data},
        actor=actor,
    )
