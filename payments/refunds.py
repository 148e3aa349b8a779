"""Making a recorded refund at its gateway (`payments.services.refund_request` records it).

Like a charge, a refund is sent with its operation's idempotency key: sending it again — after a
lost answer, a retry, a redelivered task — can only ever make the one refund. So an operation left
pending or unknown is settled by sending the same request again, which the provider answers with
the refund it already made, if it made one.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gateways.base import (
    GatewayError,
    OutcomeUnknownError,
    RefundRequest,
    TransientGatewayError,
)
from gateways.card import get_card_gateway
from gateways.models import Gateway
from payments.models import (
    GatewayOperation,
    LedgerEntryType,
    OperationKind,
    OperationStatus,
    Payment,
)
from payments.services import balance_credit, operation_settle, refund_apply

# A refund still pending or unknown this long after it was recorded is the janitor's to settle.
_UNSETTLED = (OperationStatus.PENDING, OperationStatus.UNKNOWN)


def refund_process(operation_id: int) -> Payment | None:
    """Make the refund, once: credit the balance, or ask the card provider. Returns the payment
    when this call made (or found) the refund, None otherwise.

    Does nothing for a refund already settled. Raises `TransientGatewayError` (retry with the
    same key); a lost answer leaves the operation unknown for the janitor. A provider's refusal
    settles it failed: nothing was refunded, and staff may ask again.
    """
    operation = GatewayOperation.objects.select_related("payment").get(pk=operation_id)
    if operation.kind != OperationKind.REFUND or operation.status not in _UNSETTLED:
        return None
    payment = operation.payment
    if operation.gateway == Gateway.BALANCE:
        with transaction.atomic():
            entry = balance_credit(
                user_id=payment.user_id,
                amount=operation.amount,
                currency=operation.currency,
                entry_type=LedgerEntryType.REFUND,
                payment_id=payment.pk,
                refund_number=_refund_number(operation),
            )
            return _succeeded(operation, external_id=f"ledger-{entry.pk}")

    # Outside any transaction: the provider may take seconds, and no lock waits for it.
    request = RefundRequest(
        # The card charge's id: what the payment completed with.
        charge_id=payment.gateway_reference or "",
        amount=operation.amount,
        currency=operation.currency,
        idempotency_key=operation.idempotency_key,
    )
    try:
        result = get_card_gateway().refund(request)
    except TransientGatewayError:
        raise
    except OutcomeUnknownError as error:
        operation_settle(
            operation_id=operation.pk,
            to=OperationStatus.UNKNOWN,
            error_code=error.code,
            error_message=str(error),
        )
        return None
    except GatewayError as error:
        operation_settle(
            operation_id=operation.pk,
            to=OperationStatus.FAILED,
            error_code=error.code,
            error_message=str(error),
        )
        return None
    with transaction.atomic():
        return _succeeded(operation, external_id=result.refund_id)


def refund_give_up_retrying(operation_id: int) -> None:
    """Retries are spent but the refund may yet go through: the janitor sends it again later."""
    operation_settle(operation_id=operation_id, to=OperationStatus.UNKNOWN, error_code="retries")


def unsettled_refunds(limit: int = 100) -> list[GatewayOperation]:
    """Refunds with no answer for longer than any answer can take, oldest first."""
    cutoff = timezone.now() - timedelta(seconds=settings.OPERATION_SETTLE_AFTER_SECONDS)
    return list(
        GatewayOperation.objects.filter(
            kind=OperationKind.REFUND, status__in=_UNSETTLED, created_at__lt=cutoff
        ).order_by("created_at")[:limit]
    )


def _succeeded(operation: GatewayOperation, *, external_id: str) -> Payment:
    operation_settle(
        operation_id=operation.pk, to=OperationStatus.SUCCEEDED, external_id=external_id
    )
    return refund_apply(operation_id=operation.pk)


def _refund_number(operation: GatewayOperation) -> int:
    """1 for the payment's first refund, 2 for its second...: one ledger entry each."""
    return GatewayOperation.objects.filter(
        payment_id=operation.payment_id, kind=OperationKind.REFUND, pk__lte=operation.pk
    ).count()
