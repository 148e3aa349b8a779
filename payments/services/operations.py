"""Every write to gateway operations: outbound money calls, recorded before they are sent."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.transitions import transition_needed
from payments.metrics import counted_on_commit, gateway_operations
from payments.models import (
    OPERATION_TRANSITIONS,
    GatewayOperation,
    OperationKind,
    OperationStatus,
    Payment,
)
from payments.services.outcomes import payment_may_take_money
from payments.services.transitions import payment_event_record

# An operation in one of these may have moved the money, or will: never send another.
_IN_FLIGHT_OR_DONE = frozenset(
    {OperationStatus.PENDING, OperationStatus.UNKNOWN, OperationStatus.SUCCEEDED}
)


class OperationInFlight(Exception):
    """Another charge of this payment was sent and has no answer yet: do not send one more."""


class ChargeNotAllowed(Exception):
    """The payment may not be charged now: it is not processing, or it does not hold its
    order's claim (another payment of the order may be taking the money)."""


def operation_start(*, payment_id: int, kind: str) -> GatewayOperation:
    """Record an outbound money call before it is sent, and count the attempt.

    Under the payment's lock, so two deliveries of the same task cannot both start a charge:
    the second finds the first one pending and gets `OperationInFlight`. A charge is the moment
    money moves, so it is checked here, under that lock, that the payment is processing and
    holds its order's claim (`ChargeNotAllowed` otherwise): no other payment of the order can
    be charging. Each attempt has its own idempotency key, sent to the gateway with the call.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if kind == OperationKind.CHARGE and not payment_may_take_money(payment):
            raise ChargeNotAllowed(payment.status)
        earlier = list(
            GatewayOperation.objects.filter(payment_id=payment_id, kind=kind).values_list(
                "status", flat=True
            )
        )
        if set(earlier) & _IN_FLIGHT_OR_DONE:
            raise OperationInFlight()
        number = len(earlier) + 1
        operation = GatewayOperation.objects.create(
            payment=payment,
            gateway=payment.gateway,
            kind=kind,
            idempotency_key=f"{payment.public_id}-{kind}-{number}",
            amount=payment.amount,
            currency=payment.currency,
        )
        if kind == OperationKind.CHARGE:
            Payment.objects.filter(pk=payment_id).update(attempts=F("attempts") + 1)
        payment_event_record(
            payment_id=payment_id,
            type=f"{kind}_attempt",
            data={"attempt": number, "idempotency_key": operation.idempotency_key},
        )
    return operation


def operation_settle(
    *,
    operation_id: int,
    to: str,
    external_id: str = "",
    error_code: str = "",
    error_message: str = "",
) -> GatewayOperation:
    """Record a gateway's answer (or its absence: `unknown`) and put it on the payment's timeline.

    The one place that changes an operation's status. A repeat of the same settlement is a no-op.
    """
    with transaction.atomic():
        operation = GatewayOperation.objects.select_for_update().get(pk=operation_id)
        if not transition_needed(
            OPERATION_TRANSITIONS, what="operation", from_status=operation.status, to=to
        ):
            return operation
        operation.status = to
        operation.external_id = external_id or operation.external_id
        operation.error_code = error_code
        operation.error_message = error_message[:255]
        if to != OperationStatus.UNKNOWN:
            operation.settled_at = timezone.now()
        operation.save(
            update_fields=[
                "status",
                "external_id",
                "error_code",
                "error_message",
                "settled_at",
                "updated_at",
            ]
        )
        payment_event_record(
            payment_id=operation.payment_id,
            type=f"{operation.kind}_{to}",
            data={
                "idempotency_key": operation.idempotency_key,
                **({"external_id": external_id} if external_id else {}),
                **({"error_code": error_code} if error_code else {}),
            },
            is_error=to in (OperationStatus.FAILED, OperationStatus.UNKNOWN),
        )
        counted_on_commit(gateway_operations.labels(operation.gateway, operation.kind, to).inc)
    return operation
