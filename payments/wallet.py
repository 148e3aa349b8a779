"""What wallet and bank-app callbacks mean for our payments (seed 003's WalletCallback,
BankAppCallback and ProcessPaidWalletOrderInternal).

The view stores the callback, checks its signature and parses it; `wallet_callback_accept` then
decides whether it is new, a duplicate or about an order already paid (skipped). Money for an
order that is neither pending nor paid (cancelled) still becomes a payment: settling it fails
for a person to review, so it is never lost. A new one creates the
payment and moves it to processing with the provider's payment id; the unique constraint on
(gateway_reference, gateway) lets only one of several concurrent copies do so. Applying the
result (re-pricing the order, completing or failing) is `payment_wallet_settle`'s job.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from gateways.models import CallbackOutcome
from gateways.services import callback_settle
from gateways.wallet import WalletCallback
from orders.models import Order, PaymentHeader
from payments.models import Payment, PaymentKind, PaymentStatus
from payments.services import payment_create, payment_event_record, payment_transition
from payments.tasks import payment_wallet_settle, queue_after_commit


@dataclass(frozen=True)
class Verdict:
    outcome: str
    reason: str = ""
    # What the provider is told: accepted, duplicate or skipped (the order was already paid).
    answer: str = ""
    # Set on a rejection: the error code the provider is answered with.
    code: str = ""


def wallet_callback_accept(*, callback_id: int, gateway: str, callback: WalletCallback) -> Verdict:
    """Act once on a verified, parsed callback of `gateway` and settle the stored callback.

    Never raises for a repeat: a known payment id is a duplicate, an order already paid is
    skipped (recorded on the payment that paid it). A new callback commits a processing payment
    and queues `payment_wallet_settle` after the commit.
    """
    reference = callback.gateway_payment_id
    existing = Payment.objects.filter(gateway=gateway, gateway_reference=reference).first()
    if existing is not None:
        return _settle(
            callback_id, Verdict(CallbackOutcome.DUPLICATE, answer="duplicate"), callback, existing
        )
    order = Order.objects.filter(number=callback.order_number).first()
    if order is None:
        verdict = Verdict(CallbackOutcome.REJECTED, "unknown order", code="unknown_order")
        return _settle(callback_id, verdict, callback)
    header = PaymentHeader.objects.filter(order=order).first()
    if header is not None:
        return _skip(callback_id, callback, header)

    try:
        # One transaction: if another copy won the race for this payment id, the payment this
        # copy created is rolled back with it, and no orphan stays pending.
        with transaction.atomic():
            payment = payment_create(
                user=order.user,
                kind=PaymentKind.ORDER,
                gateway=gateway,
                method=gateway,
                amount=callback.amount,
                currency=order.currency,
                order=order,
            )
            payment_transition(
                payment_id=payment.pk,
                to=PaymentStatus.PROCESSING,
                event="validated",
                data={"source": gateway, "callback": callback_id, "success": callback.success},
                changes={"gateway_reference": reference},
            )
            queue_after_commit(payment_wallet_settle, payment.pk, callback.success)
    except IntegrityError:
        winner = Payment.objects.filter(gateway=gateway, gateway_reference=reference).first()
        if winner is None:
            raise
        return _settle(
            callback_id, Verdict(CallbackOutcome.DUPLICATE, answer="duplicate"), callback, winner
        )
    return _settle(
        callback_id, Verdict(CallbackOutcome.ACCEPTED, answer="accepted"), callback, payment
    )


def _skip(callback_id: int, callback: WalletCallback, header: PaymentHeader) -> Verdict:
    """The seed's "already paid: skip": keep the evidence on the payment that paid the order,
    change nothing else, send nothing."""
    payment_event_record(
        payment_id=header.payment_id,
        type="wallet_callback_skipped",
        data={
            "callback": callback_id,
            "payment_id": callback.gateway_payment_id,
            "amount": str(callback.amount),
            "reason": "order already paid",
        },
    )
    verdict = Verdict(CallbackOutcome.DUPLICATE, "order already paid", answer="skipped")
    return _settle(callback_id, verdict, callback)


def _settle(
    callback_id: int, verdict: Verdict, callback: WalletCallback, payment: Payment | None = None
) -> Verdict:
    callback_settle(
        callback_id=callback_id,
        outcome=verdict.outcome,
        reason=verdict.reason,
        signature_valid=True,
        payment_id=payment.pk if payment else None,
        external_reference=callback.gateway_payment_id,
    )
    return verdict
