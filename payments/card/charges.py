"""What the card provider's answers do to a payment: the charge, made once with its operation's
idempotency key, and a charge left without an answer settled by asking the provider, never by
charging again. The pipeline's process step (`payments.pipeline.process`) charges through here;
the janitor (`payments.tasks.operations_settle_unknown`) settles through here.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import OuterRef, Q, QuerySet
from django.utils import timezone

from gateways.base import ChargeRequest, GatewayError, OutcomeUnknownError, PaymentDeclinedError
from gateways.card import get_card_gateway
from gateways.models import Gateway
from payments.models import GatewayOperation, OperationKind, OperationStatus, Payment
from payments.services import OperationInFlight, operation_settle, operation_start


class ChargeOutcomeUnknown(Exception):
    """A charge was sent and not answered: only the janitor, by asking the provider, settles it."""


def card_charge(payment: Payment) -> None:
    """Charge the payment's card token, once: the charge is recorded as a `GatewayOperation`
    before it is sent, and sent outside any transaction.

    Raises `TransientGatewayError` (retry), `ChargeOutcomeUnknown` (stop: the janitor settles
    it), `PaymentDeclinedError` / `PermanentGatewayError` (fail), `ChargeNotAllowed` (the payment
    no longer holds its order).
    """
    try:
        operation = operation_start(payment_id=payment.pk, kind=OperationKind.CHARGE)
    except OperationInFlight:
        if _charge_succeeded(payment.pk):
            return
        raise ChargeOutcomeUnknown() from None

    # Outside any transaction: the provider may take seconds, and no lock waits for it.
    request = ChargeRequest(
        token=payment.card_token,
        amount=payment.amount,
        currency=payment.currency,
        idempotency_key=operation.idempotency_key,
        description=f"Payment {payment.public_id}",
    )
    try:
        result = get_card_gateway().charge(request)
    except OutcomeUnknownError as error:
        _settle(operation, OperationStatus.UNKNOWN, error)
        raise ChargeOutcomeUnknown() from error
    except GatewayError as error:
        _settle(operation, OperationStatus.FAILED, error)
        raise
    operation_settle(
        operation_id=operation.pk, to=OperationStatus.SUCCEEDED, external_id=result.charge_id
    )


@dataclass(frozen=True)
class Settlement:
    payment_id: int
    charged: bool
    # The provider's decline code when it recorded the charge as declined.
    declined: str = ""


def card_charge_settle(operation: GatewayOperation) -> Settlement | None:
    """Settle a charge left without an answer by asking the provider, never by charging again.

    Returns None when the provider cannot be asked now (try on the next sweep).
    """
    declined = ""
    try:
        charge = get_card_gateway().find_charge(operation.idempotency_key)
    except PaymentDeclinedError as error:
        charge, declined = None, error.code
    except GatewayError:
        return None
    if operation.status == OperationStatus.PENDING:
        # A worker died mid-call: from here on the outcome is officially unknown.
        operation_settle(operation_id=operation.pk, to=OperationStatus.UNKNOWN)
    if declined:
        operation_settle(operation_id=operation.pk, to=OperationStatus.FAILED, error_code=declined)
        return Settlement(payment_id=operation.payment_id, charged=False, declined=declined)
    if charge is None:
        operation_settle(
            operation_id=operation.pk, to=OperationStatus.FAILED, error_code="not_charged"
        )
        return Settlement(payment_id=operation.payment_id, charged=False)
    operation_settle(
        operation_id=operation.pk, to=OperationStatus.SUCCEEDED, external_id=charge.charge_id
    )
    return Settlement(payment_id=operation.payment_id, charged=True)


def card_charges_unsettled(limit: int = 100) -> list[GatewayOperation]:
    """Card charges with no answer for longer than any answer can take, oldest first."""
    cutoff = timezone.now() - timedelta(seconds=settings.OPERATION_SETTLE_AFTER_SECONDS)
    return list(
        GatewayOperation.objects.filter(
            gateway=Gateway.CARD,
            kind=OperationKind.CHARGE,
            status__in=[OperationStatus.PENDING, OperationStatus.UNKNOWN],
            created_at__lt=cutoff,
        ).order_by("created_at")[:limit]
    )


def succeeded_charges(payment: int | OuterRef) -> QuerySet[GatewayOperation]:
    """The payment's succeeded charge (at most one: a charge is started only when no other is
    in flight or done, `operation_start`); `payment` is its id, or OuterRef("pk") to read it
    with the payment in one statement."""
    return GatewayOperation.objects.filter(
        Q(payment=payment), kind=OperationKind.CHARGE, status=OperationStatus.SUCCEEDED
    )


def _charge_succeeded(payment_id: int) -> bool:
    return succeeded_charges(payment_id).exists()


def _settle(operation: GatewayOperation, to: str, error: GatewayError) -> None:
    operation_settle(
        operation_id=operation.pk, to=to, error_code=error.code, error_message=str(error)
    )
