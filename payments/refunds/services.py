"""Every write of a refund: asking for one, applying one the gateway has made, telling of it.

A refund is a `GatewayOperation` of kind refund, written before the gateway is asked, so a
refund that got no answer is settled later with the same idempotency key, never sent twice.
Lock order as everywhere: the payment's row, then its order's, then its user's.
"""

from decimal import Decimal
from typing import cast

from django.db import transaction
from django.utils import translation

from accounts.models import User
from core.models import ZERO
from gateways.models import Gateway
from notifications.services import RefundNotice, notifications_summary, notify_payment_event
from orders.models import OrderStatus, PaymentHeader
from orders.pricing import PRICE_STEP
from orders.services import order_transition
from payments.exceptions import InvalidRefund, PaymentNotRefundable, RefundInProgress
from payments.models import (
    GatewayOperation,
    OperationKind,
    OperationStatus,
    Payment,
    PaymentEvent,
    PaymentKind,
    PaymentMethod,
    PaymentStatus,
)
from payments.services.transitions import (
    payment_event_record,
    payment_event_record_once,
    payment_transition,
)

# Gateways whose refunds this service makes itself, and with which methods. ECPay refunds card
# payments only (DoAction); its ATM and store payments, and the wallet and bank apps (which have
# no refund API), are refunded outside this service.
REFUNDABLE_METHODS: dict[str, frozenset[str]] = {
    Gateway.CARD: frozenset({PaymentMethod.CARD}),
    Gateway.BALANCE: frozenset({PaymentMethod.BALANCE}),
    Gateway.ECPAY: frozenset({PaymentMethod.CARD}),
}


def refund_request(
    *, payment_id: int, amount: Decimal | None, reason: str, actor: User
) -> GatewayOperation:
    """Record a refund of `amount` (all that is left when None) of a completed order payment.

    Only records it: `payments.refunds.processing.refund_process` asks the gateway. One refund
    of a payment is in flight at a time, so what is left to refund is always known; a second
    request while one is in flight raises `RefundInProgress`. Raises `InvalidRefund` for an
    amount that is not positive, not in the currency's step, or more than is left, and
    `PaymentNotRefundable` for a payment this service cannot refund.
    """
    if amount is not None and not isinstance(amount, Decimal):
        raise TypeError("Money is Decimal, never float.")
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        refund_check_allowed(payment)
        refunds = GatewayOperation.objects.filter(payment_id=payment_id, kind=OperationKind.REFUND)
        if refunds.filter(status__in=[OperationStatus.PENDING, OperationStatus.UNKNOWN]).exists():
            raise RefundInProgress()
        left = payment.amount - payment.refunded_amount
        amount = left if amount is None else amount
        refund_check_amount(amount, left=left, currency=payment.currency)
        number = refunds.count() + 1
        operation = GatewayOperation.objects.create(
            payment=payment,
            gateway=payment.gateway,
            kind=OperationKind.REFUND,
            idempotency_key=f"{payment.public_id}-refund-{number}",
            amount=amount,
            currency=payment.currency,
            reason=reason[:255],
        )
        payment_event_record(
            payment_id=payment_id,
            type="refund_requested",
            data={
                "refund": operation.idempotency_key,
                "amount": str(amount),
                "reason": reason,
            },
            actor=actor,
        )
    return operation


def refund_apply(*, operation_id: int) -> Payment:
    """Count a refund the gateway made against its payment, once.

    Call in the transaction that settles the operation as succeeded. The whole amount refunded
    makes the payment `refunded`, and its order too if this payment is the one that paid it (a
    duplicate payment of an order paid by another is refunded without touching the order); less
    keeps it `completed` with a higher `refunded_amount`. Running it again changes nothing.
    """
    with transaction.atomic():
        operation = GatewayOperation.objects.get(pk=operation_id)
        payment = Payment.objects.select_for_update().get(pk=operation.payment_id)
        if payment.events.filter(type="refund_applied", data__refund=operation.idempotency_key):
            return payment
        refunded = payment.refunded_amount + operation.amount
        payment_event_record(
            payment_id=payment.pk,
            type="refund_applied",
            data={
                "refund": operation.idempotency_key,
                "amount": str(operation.amount),
                "refunded_amount": str(refunded),
            },
        )
        if refunded < payment.amount:
            Payment.objects.filter(pk=payment.pk).update(refunded_amount=refunded)
            payment.refunded_amount = refunded
            return payment
        payment = payment_transition(
            payment_id=payment.pk,
            to=PaymentStatus.REFUNDED,
            event="refunded",
            data={"refund": operation.idempotency_key},
            changes={"refunded_amount": refunded},
        )
        # Never None: only order payments are refunded (`refund_check_allowed`).
        order_id = cast(int, payment.order_id)
        if PaymentHeader.objects.filter(order_id=order_id, payment_id=payment.pk).exists():
            order_transition(order_id=order_id, to=OrderStatus.REFUNDED, event="refunded")
    return payment


def refund_notify(*, operation_id: int) -> None:
    """Tell the customer of a refund the gateway made: every refund, a part or the whole, is a
    message of its own, saying what it gave back and what is refunded in all.

    Does nothing for a refund not applied (yet). Safe to call again: the notifications find the
    messages already sent, and the timeline says `notified_refunded` once per refund. Call it
    outside a transaction (`notify_payment_event`).
    """
    operation = GatewayOperation.objects.get(pk=operation_id)
    applied = PaymentEvent.objects.filter(
        payment_id=operation.payment_id,
        type="refund_applied",
        data__refund=operation.idempotency_key,
    ).first()
    if applied is None:
        return
    payment = Payment.objects.select_related("user", "order").get(pk=operation.payment_id)
    notifications = notify_payment_event(
        payment=payment,
        event="refunded",
        refund=RefundNotice(
            key=operation.idempotency_key,
            amount=operation.amount,
            # What `refund_apply` counted with this refund, not what the payment says now.
            refunded_amount=Decimal(applied.data["refunded_amount"]),
        ),
    )
    payment_event_record_once(
        payment_id=payment.pk,
        type="notified_refunded",
        data={
            "refund": operation.idempotency_key,
            "messages": notifications_summary(notifications),
        },
        same={"refund": operation.idempotency_key},
    )


def refund_check_allowed(payment: Payment) -> None:
    """Raise PaymentNotRefundable unless this service can refund `payment` (a completed order
    payment of a gateway and method it refunds). Call with the payment locked."""
    if payment.kind != PaymentKind.ORDER:
        # A deposit's money is in the balance: a withdrawal takes it out, not a refund.
        raise PaymentNotRefundable("Only order payments are refunded; withdraw a deposit instead.")
    if payment.method not in REFUNDABLE_METHODS.get(payment.gateway, frozenset()):
        # The API's messages are English whatever the caller's language (labels follow it).
        with translation.override("en"):
            method = f"{payment.get_gateway_display()} {payment.get_method_display()}"
        raise PaymentNotRefundable(f"{method} payments are refunded outside this service.")
    if payment.status != PaymentStatus.COMPLETED:
        raise PaymentNotRefundable(
            f"Only a completed payment is refunded; this one is {payment.status}."
        )


def refund_check_amount(amount: Decimal, *, left: Decimal, currency: str) -> None:
    """Raise InvalidRefund unless `amount` is positive, in the currency's step and at most
    `left` (what is left to refund)."""
    if amount <= ZERO:
        raise InvalidRefund(fields={"amount": ["Must be greater than zero."]})
    # Before the step: `%` on an amount past Decimal's 28 digits raises instead of answering.
    if amount > left:
        raise InvalidRefund(fields={"amount": [f"At most {left} {currency} is left to refund."]})
    if amount % PRICE_STEP[currency] != ZERO:
        raise InvalidRefund(
            fields={"amount": [f"{currency} is refunded in steps of {PRICE_STEP[currency]}."]}
        )
