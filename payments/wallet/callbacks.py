"""What wallet and bank-app callbacks mean for our payments (seed 003's WalletCallback,
BankAppCallback and ProcessPaidWalletOrderInternal).

The view stores the callback, checks its signature and parses it; `wallet_callback_accept` then
decides whether it is new, a duplicate, or a report that contradicts the first one about the
same payment id. A new one records a payment with the provider's payment id (the unique
constraint on (gateway_reference, gateway) lets only one of several concurrent copies do so)
and moves it to processing. The payment takes its order's claim if it can; if another payment
holds it (the order was paid another way, or is being paid), the money is recorded all the same
and credited to the customer's balance when it is settled, never kept silently. Applying the
result (re-pricing the order, completing, crediting or failing) is `wallet_payment_settle`'s,
run by the worker (`payments.tasks.payment_wallet_settle`).
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction

from gateways.base import BadSignatureError
from gateways.models import CallbackOutcome, GatewayCallback
from gateways.services import callback_settle
from gateways.wallet import (
    MalformedCallback,
    WalletCallback,
    callback_secret,
    parse_callback,
    verify_signature,
)
from orders.models import Order, OrderStatus
from orders.selectors import order_cost
from orders.services import order_record_unpaid
from payments.exceptions import AmountOutOfRange
from payments.limits import amount_check
from payments.models import Payment, PaymentKind, PaymentStatus
from payments.pipeline import Failure, update
from payments.queue import PAYMENT_NOTIFY, PAYMENT_WALLET_SETTLE, queue_after_commit
from payments.selectors import wallet_reported_success
from payments.services import (
    payment_complete,
    payment_create,
    payment_credit,
    payment_event_record,
    payment_flag_for_review,
    payment_transition,
)


@dataclass(frozen=True)
class Verdict:
    outcome: str
    reason: str = ""
    # What the provider is told: accepted, duplicate or skipped (the order was already paid).
    answer: str = ""
    # Set on a rejection: the error code the provider is answered with, and the HTTP status.
    code: str = ""
    status: int = 200
    # A malformed callback's field and what is wrong with it.
    invalid_field: tuple[str, str] | None = None


def wallet_callback_signed(
    *, gateway: str, body: bytes, signature: str | None, timestamp: str | None
) -> bool:
    """Whether the callback's signature verifies now: the view's check before it stores the
    callback (pure computation)."""
    try:
        verify_signature(
            secret=callback_secret(gateway), body=body, signature=signature, timestamp=timestamp
        )
    except BadSignatureError:
        return False
    return True


def wallet_callback_receive(
    *,
    callback: GatewayCallback,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now: float | None = None,
) -> Verdict:
    """Verify, parse and act once on a stored callback of the wallet or the bank app: what the
    callback view does with a request, and a replay with the stored one.

    `body` is the bytes the signature covers, as they arrived. `now` judges the timestamp's
    freshness (a replay passes the callback's arrival). A forged or stale callback is rejected
    (401 `bad_signature`), a malformed one too (400 `invalid`, with its field); either is
    settled on the stored callback with the reason.
    """
    try:
        verify_signature(
            secret=callback_secret(callback.gateway),
            body=body,
            signature=signature,
            timestamp=timestamp,
            now=now,
        )
    except BadSignatureError as error:
        callback_settle(
            callback_id=callback.pk,
            gateway=callback.gateway,
            outcome=CallbackOutcome.REJECTED,
            reason=str(error),
            signature_valid=False,
        )
        return Verdict(CallbackOutcome.REJECTED, str(error), code="bad_signature", status=401)
    try:
        parsed = parse_callback(body)
    except MalformedCallback as error:
        callback_settle(
            callback_id=callback.pk,
            gateway=callback.gateway,
            outcome=CallbackOutcome.REJECTED,
            reason=str(error),
            signature_valid=True,
        )
        return Verdict(
            CallbackOutcome.REJECTED,
            str(error),
            code="invalid",
            status=400,
            invalid_field=(error.field, error.message),
        )
    return wallet_callback_accept(
        callback_id=callback.pk, gateway=callback.gateway, callback=parsed
    )


def wallet_callback_accept(*, callback_id: int, gateway: str, callback: WalletCallback) -> Verdict:
    """Act once on a verified, parsed callback of `gateway` and settle the stored callback.

    Never raises for a repeat: a known payment id is a duplicate, or a contradiction of what
    was first reported about it (`_known_payment_report`). A new callback commits a processing
    payment and queues `payment_wallet_settle` after the commit; about an order already paid it
    is answered `skipped` (seed 003), and a success's money is credited to the customer's
    balance. An amount outside what may be paid is rejected (400), recorded on the callback for
    staff.
    """
    reference = callback.gateway_payment_id
    existing = (
        Payment.objects.filter(gateway=gateway, gateway_reference=reference).only("pk").first()
    )
    if existing is not None:
        return _known_payment_report(
            callback_id=callback_id, gateway=gateway, callback=callback, payment_id=existing.pk
        )
    order = Order.objects.filter(number=callback.order_number).first()
    if order is None:
        verdict = Verdict(
            CallbackOutcome.REJECTED, "unknown order", code="unknown_order", status=404
        )
        return _settle(callback_id, gateway, verdict, callback)
    try:
        amount_check(
            kind=PaymentKind.ORDER,
            gateway=gateway,
            method=gateway,
            amount=callback.amount,
            currency=order.currency,
        )
    except AmountOutOfRange as error:
        reason = f"amount out of range: {error.fields['amount'][0]}"
        verdict = Verdict(CallbackOutcome.REJECTED, reason, code=error.code, status=400)
        return _settle(callback_id, gateway, verdict, callback)

    try:
        payment, answer = _payment_record(
            callback_id=callback_id, gateway=gateway, order=order, callback=callback
        )
    except IntegrityError:
        winner = Payment.objects.filter(gateway=gateway, gateway_reference=reference).first()
        if winner is None:
            raise
        return _known_payment_report(
            callback_id=callback_id, gateway=gateway, callback=callback, payment_id=winner.pk
        )
    reason = "order already paid: recorded, not applied to it" if answer == "skipped" else ""
    verdict = Verdict(CallbackOutcome.ACCEPTED, reason, answer=answer)
    return _settle(callback_id, gateway, verdict, callback, payment)


def _payment_record(
    *, callback_id: int, gateway: str, order: Order, callback: WalletCallback
) -> tuple[Payment, str]:
    """Record the reported payment, processing, holding the order's claim if no other payment
    does; and the answer for the provider (`skipped`: the order was paid already).

    One transaction: if another copy won the race for this payment id, the payment this copy
    created is rolled back with it, and none is left half made. The order's row is locked
    first: a payment taking the claim reads that row for its foreign key, so while the lock is
    held nobody else can take it, and what is read here is what is written.
    """
    with transaction.atomic():
        Order.objects.select_for_update().only("pk").get(pk=order.pk)
        holder = Payment.objects.filter(claimed_order=order).only("status").first()
        payment = payment_create(
            user=order.user,
            kind=PaymentKind.ORDER,
            gateway=gateway,
            method=gateway,
            amount=callback.amount,
            currency=order.currency,
            order=order,
            gateway_reference=callback.gateway_payment_id,
            # Money for an order another payment holds is recorded without the claim: settling
            # it credits the balance instead of paying the order a second time.
            claim_order=holder is None,
        )
        payment_transition(
            payment_id=payment.pk,
            to=PaymentStatus.PROCESSING,
            event="validated",
            data={"source": gateway, "callback": callback_id, "success": callback.success},
        )
        queue_after_commit(PAYMENT_WALLET_SETTLE, payment.pk, callback.success)
    paid_already = holder is not None and holder.status in PAID_STATUSES
    return payment, "skipped" if paid_already else "accepted"


# A payment in one of these paid its order.
PAID_STATUSES = frozenset({PaymentStatus.COMPLETED, PaymentStatus.REFUNDED})

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class _Report:
    """What a callback says of the provider's payment: what two reports of it are compared on."""

    success: bool
    amount: Decimal

    def as_data(self) -> dict[str, object]:
        # In cents, whatever the callback wrote: 960 and 960.00 are one amount.
        return {"success": self.success, "amount": str(self.amount.quantize(_CENT))}


def _known_payment_report(
    *, callback_id: int, gateway: str, callback: WalletCallback, payment_id: int
) -> Verdict:
    """Judge a callback about a payment id already recorded, and settle it.

    The payment holds the first report: its amount, and whether it said paid (kept when the
    payment was validated). A callback that says the same, or the same as a later report
    already acted on, is a plain duplicate and changes nothing. One that contradicts the
    first (paid or not, or another amount) is never dropped as a duplicate: a wallet that
    reported a payment failed may take the money after all, or report another amount, and
    money that arrives anyway is never kept silently. Money reported paid, for the amount first
    reported, after the first report said failure is credited (`_paid_after_reported_failure`).
    Any other contradiction is flagged for a person with both reports and answered `duplicate`,
    as ECPay's conflicting TradeNo is: which one is true is a person's to find out with the
    provider (a failure never undoes a payment reported paid, and money of another amount
    than the payment's is not ours to credit on one report's word).

    Judged under the payment's row lock, which settling the payment and every change of it take
    too: copies of one contradicting report arriving at once act on it once.
    """
    reported = _Report(success=callback.success, amount=callback.amount)
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        first = _Report(
            success=wallet_reported_success(payment_id=payment_id), amount=payment.amount
        )
        if reported == first or _acted_on_before(payment, reported):
            verdict = Verdict(CallbackOutcome.DUPLICATE, answer="duplicate")
        elif reported.success and not first.success and reported.amount == first.amount:
            verdict = _paid_after_reported_failure(
                payment, callback_id=callback_id, first=first, reported=reported
            )
        else:
            payment_flag_for_review(
                payment_id=payment_id,
                reason="conflicting_report",
                data={
                    "callback": callback_id,
                    "first": first.as_data(),
                    "reported": reported.as_data(),
                },
            )
            verdict = Verdict(
                CallbackOutcome.DUPLICATE,
                "contradicts the first report: flagged for review",
                answer="duplicate",
            )
    # Settled after the payment's lock is let go, as a new payment's callback is: a replay
    # locks the callback's row before the payment's, and the two must never wait on each other.
    return _settle(callback_id, gateway, verdict, callback, payment)


def _acted_on_before(payment: Payment, reported: _Report) -> bool:
    """Whether a contradicting report saying the same as `reported` was acted on already: each
    one flags the payment with what it reported. A payment has few flags."""
    flagged = payment.events.filter(type="flagged_for_review").values_list("data", flat=True)
    return any(data.get("reported") == reported.as_data() for data in flagged)


def _paid_after_reported_failure(
    payment: Payment, *, callback_id: int, first: _Report, reported: _Report
) -> Verdict:
    """The wallet reported `payment` failed and now reports it paid, for the same amount: late
    money, handled as ECPay's for a payment we gave up on (`ecpay_paid`). Call under the
    payment's row lock.

    It pays nothing, whether or not the failure was settled yet (processing or failed): the
    payment let go of its order's claim when it failed, or must now, and the customer may have
    paid the order another way meanwhile. So it is credited to the customer's balance, flagged
    with both reports (`payment_credit`), and the customer told; a balance in another currency
    cannot take it, and it is flagged to be returned at the gateway. The failure's settling,
    if it is still queued, then finds the payment moved on and does nothing.
    """
    credited = payment_credit(
        payment_id=payment.pk,
        reason="paid_after_reported_failure",
        data={"callback": callback_id, "first": first.as_data(), "reported": reported.as_data()},
        locked=payment,
    )
    queue_after_commit(PAYMENT_NOTIFY, payment.pk)
    if credited.status == PaymentStatus.CREDITED:
        reason = "paid after the wallet reported failure: credited to the balance"
    else:
        reason = "paid after the wallet reported failure: flagged, to be returned"
    return Verdict(CallbackOutcome.ACCEPTED, reason, answer="accepted")


def _settle(
    callback_id: int,
    gateway: str,
    verdict: Verdict,
    callback: WalletCallback,
    payment: Payment | None = None,
) -> Verdict:
    callback_settle(
        callback_id=callback_id,
        gateway=gateway,
        outcome=verdict.outcome,
        reason=verdict.reason,
        signature_valid=True,
        payment_id=payment.pk if payment else None,
        external_reference=callback.gateway_payment_id,
    )
    return verdict


def wallet_payment_settle(payment_id: int, *, success: bool) -> None:
    """Apply what a wallet or bank app reported (seed 003's ProcessPaidWalletOrderInternal).

    Failure fails the payment (no money moved). Success re-prices the order (its items and
    discount code, `orders.selectors.order_cost`): money that covers the total pays the order,
    and the re-priced cost is saved on it with its payment header (any excess is credited to
    the customer's balance, flagged); money that falls short, or comes for an order another
    payment holds or that no longer waits for payment, pays nothing and is credited to the
    balance, flagged with the difference (`payment_credit`). An attempt on an order it may pay
    that pays nothing (failure, short) writes the order's header with is_paid false, as the
    seed does, never over a paid one (`order_record_unpaid`). Money the balance cannot take (an
    order in another currency) is flagged to be returned instead of credited. Each attempt is
    logged on the timeline (`process_paid_order`, `is_error` when it pays nothing: the seed's
    ProcessPaidOrderTable). A rerun changes nothing.
    """
    payment = Payment.objects.select_related("order", "user").get(pk=payment_id)
    if payment.status != PaymentStatus.PROCESSING or payment.order is None:
        return
    cost = order_cost(payment.order)
    payable = (
        payment.claimed_order_id == payment.order_id
        and payment.order.status == OrderStatus.PENDING_PAYMENT
    )
    # An order may be in another currency than the balance, which then cannot take the money
    # (`payment_credit`, `payment_complete`): a person returns it at the gateway.
    balance_currency = payment.user.balance_currency
    goes = (
        "credited to the balance"
        if payment.currency == balance_currency
        else f"to be returned (the balance is kept in {balance_currency})"
    )
    if not success:
        outcome = "wallet reported failure"
    elif not payable:
        outcome = f"order not payable: {goes}"
    elif payment.amount < cost.total:
        outcome = (
            f"underpaid: paid {payment.amount}, due {cost.total} "
            f"(short by {cost.total - payment.amount}): {goes}"
        )
    elif payment.amount > cost.total:
        outcome = f"overpaid by {payment.amount - cost.total}: the rest {goes}"
    else:
        outcome = ""
    pays_order = success and payable and payment.amount >= cost.total
    payment_event_record(
        payment_id=payment_id,
        type="process_paid_order",
        data={
            "success": success,
            "paid": str(payment.amount),
            "subtotal": str(cost.subtotal),
            "shipping_fee": str(cost.shipping_fee),
            "discount": str(cost.discount),
            "total": str(cost.total),
            "failure": "" if pays_order else outcome,
            "note": outcome if pays_order else "",
        },
        is_error=not pays_order,
    )
    if payable and not pays_order:
        # The seed's header with isPaid false: how the order was last tried, never over a
        # paid one.
        order_record_unpaid(
            order_id=payment.order.pk,
            payment_id=payment_id,
            gateway=payment.gateway,
            method=payment.method,
            gateway_payment_id=payment.gateway_reference or "",
            currency=payment.currency,
        )
    if not success:
        update(payment_id, Failure(reason=outcome, needs_review=False))
    elif not pays_order:
        payment_credit(
            payment_id=payment_id,
            reason="underpaid" if payable else "order_not_payable",
            data={"due": str(cost.total), "difference": str(payment.amount - cost.total)},
        )
    else:
        with transaction.atomic():
            locked = Payment.objects.select_for_update().get(pk=payment_id)
            payment_complete(
                payment_id=payment_id,
                gateway_reference=locked.gateway_reference or "",
                cost=cost,
                locked=locked,
            )
