"""What a payment comes to: completed (its order paid), credited to the balance (money that
could not pay its order), failed or cancelled, and a dead letter run again. Each one under the
payment's lock, in the lock order of `payments.services.transitions`.
"""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, cast

from django.db import IntegrityError, transaction

from accounts.models import User
from core.exceptions import IllegalTransition
from gateways.models import Gateway
from orders.models import Order, OrderStatus
from orders.pricing import Cost
from orders.services import order_mark_paid
from payments.exceptions import PaymentBeingSettled
from payments.models import (
    GatewayOperation,
    LedgerEntry,
    LedgerEntryType,
    OperationKind,
    OperationStatus,
    Payment,
    PaymentKind,
    PaymentStatus,
)
from payments.selectors import ecpay_notification_awaiting, wallet_reported_success
from payments.services.creation import claim_refusal
from payments.services.ledger import balance_credit
from payments.services.transitions import payment_flag_for_review, payment_transition


def payment_complete(
    *,
    payment_id: int,
    gateway_reference: str,
    cost: Cost | None = None,
    locked: Payment | None = None,
) -> Payment:
    """Mark a processing payment completed and apply what its money pays for, atomically.

    An order payment writes the order's payment header and marks the order paid, if it holds
    the order's claim and the order still waits for payment; otherwise its money paid nothing
    and is credited to the customer's balance (`payment_credit`). `cost` is the order re-priced
    (a wallet's payment, seed 003): saved on the order with its header, and more paid than its
    total pays the order and credits the rest, flagged (flagged to be returned, if the balance
    is kept in another currency). A deposit credits the balance. Running
    it again changes nothing: the transition is a no-op and each effect is written at most once
    (unique header per order, one ledger entry per payment and kind). `locked`: as in
    `payment_transition`.
    """
    # In the caller's transaction when it holds the lock: no savepoint (a round trip each way)
    # for a part that, if it fails, fails the whole.
    with transaction.atomic(savepoint=locked is None):
        if locked is None:
            locked = Payment.objects.select_for_update().get(pk=payment_id)
        order = None
        if locked.kind == PaymentKind.ORDER:
            if locked.status != PaymentStatus.PROCESSING:
                return locked  # completed or credited already: a rerun
            # Locked after the payment, as everywhere: what is checked is what is written.
            # Never None for kind order: the payment_order_iff_kind_order constraint.
            order = Order.objects.select_for_update().get(pk=cast(int, locked.order_id))
            if locked.claimed_order_id != order.pk or order.status != OrderStatus.PENDING_PAYMENT:
                return payment_credit(
                    payment_id=payment_id,
                    reason="order_not_payable",
                    data={"order_status": order.status, "holds_claim": locked.claimed_order_id},
                    gateway_reference=gateway_reference,
                    locked=locked,
                )
        payment = payment_transition(
            payment_id=payment_id,
            to=PaymentStatus.COMPLETED,
            event="completed",
            data={"gateway_reference": gateway_reference},
            changes={"gateway_reference": gateway_reference},
            locked=locked,
        )
        if order is not None:
            _order_pay(payment, order, cost=cost, gateway_reference=gateway_reference)
        elif payment.kind == PaymentKind.DEPOSIT:
            balance_credit(
                user_id=payment.user_id,
                amount=payment.amount,
                currency=payment.currency,
                entry_type=LedgerEntryType.DEPOSIT,
                payment_id=payment.pk,
            )
    return payment


def _order_pay(
    payment: Payment, order: Order, *, cost: Cost | None, gateway_reference: str
) -> None:
    """Pay `order` (locked) with `payment`, just completed: at most its `cost`'s total, the
    rest credited to the customer's balance and flagged, or, in a currency the balance is not
    kept in, flagged for a person to return at the gateway."""
    paid = payment.amount if cost is None else min(cost.total, payment.amount)
    order_mark_paid(
        order_id=order.pk,
        payment_id=payment.pk,
        gateway=payment.gateway,
        method=payment.method,
        gateway_payment_id=gateway_reference,
        total_paid=paid,
        currency=payment.currency,
        cost=cost,
        locked=order,
    )
    if payment.amount > paid:
        excess = payment.amount - paid
        if payment.currency != _balance_currency(payment):
            # The order is paid all the same: only the excess has nowhere to go here. Raising
            # would roll back the payment of the order with it, and leave a dead letter holding
            # an order its money paid.
            payment_flag_for_review(
                payment_id=payment.pk,
                reason=f"overpaid: {_NOT_CREDITED}",
                data={
                    "paid": str(payment.amount),
                    "due": str(paid),
                    "excess": str(excess),
                    "currency": payment.currency,
                },
            )
            return
        _credit_to_balance(payment, excess)
        payment_flag_for_review(
            payment_id=payment.pk,
            reason="overpaid",
            data={"paid": str(payment.amount), "due": str(paid)},
        )


def payment_credit(
    *,
    payment_id: int,
    reason: str,
    data: Mapping[str, Any] | None = None,
    gateway_reference: str | None = None,
    locked: Payment | None = None,
) -> Payment:
    """Give the customer's balance money a gateway took for `payment` that paid nothing: its
    order was paid another way or cannot be paid, the attempt had been given up on (failed,
    cancelled, expired), or the money fell short of the order's total.

    The payment becomes `credited` (letting go of its order's claim), its whole amount is
    credited to the balance as a ledger entry of its own kind, and it is flagged for a person
    with `reason`, who may return the money. Money is never kept silently. Money in a currency
    the balance is not kept in cannot be credited: it is flagged for a person to return at the
    gateway, and a processing payment fails (`_payment_fail_not_credited`), letting go of its
    order's claim. Once only: a rerun credits nothing more. `locked`: as in
    `payment_transition`.
    """
    with transaction.atomic(savepoint=locked is None):
        if locked is None:
            locked = Payment.objects.select_for_update().get(pk=payment_id)
        if locked.status == PaymentStatus.CREDITED:
            return locked
        details = {"amount": str(locked.amount), "currency": locked.currency, **(data or {})}
        if locked.currency != _balance_currency(locked):
            return _payment_fail_not_credited(locked, reason=reason, details=details)
        changes = {} if gateway_reference is None else {"gateway_reference": gateway_reference}
        payment = payment_transition(
            payment_id=payment_id,
            to=PaymentStatus.CREDITED,
            event="credited",
            data={"reason": reason, **details},
            changes={**changes, "needs_review": True},
            locked=locked,
        )
        _credit_to_balance(payment, payment.amount)
        payment_flag_for_review(payment_id=payment_id, reason=reason, data=details)
    return payment


# Why money a gateway took was flagged rather than credited: the customer's balance is kept in
# another currency than the payment's (an order in USD or THB, a balance in TWD), and a balance
# holds one currency. A person returns such money at the gateway.
_NOT_CREDITED = "not credited, another currency"

# The event of a payment failed by `_payment_fail_not_credited`: `payment_reprocess` reads it.
_FAILED_NOT_CREDITED = "failed_not_credited"


def _payment_fail_not_credited(
    payment: Payment, *, reason: str, details: Mapping[str, Any]
) -> Payment:
    """Flag money that paid nothing and that the balance cannot take, for a person to return at
    the gateway; a processing payment (locked) also fails, letting go of its order's claim.

    Failed, not left processing: a processing payment is the stranded sweep's to run again
    (each run flagging it again), and its claim would keep the customer from paying the order
    another way, for money that pays nothing. Failed, not credited: nothing reached the
    balance, and the customer is told the payment did not go through. It keeps `needs_review`
    until a person has returned the money, and is never run again (`payment_reprocess`): no
    run could pay the order with it. A payment that had moved on already (failed, cancelled,
    expired: late money) keeps its status and is only flagged.
    """
    flag_reason = f"{reason}: {_NOT_CREDITED}"
    if payment.status == PaymentStatus.PROCESSING:
        payment = payment_transition(
            payment_id=payment.pk,
            to=PaymentStatus.FAILED,
            event=_FAILED_NOT_CREDITED,
            data={"reason": flag_reason, **details},
            is_error=True,
            changes={
                "failure_reason": (
                    f"{reason}: {payment.amount} {payment.currency} {_NOT_CREDITED}: "
                    "to be returned at the gateway"
                ),
                "needs_review": True,
                # Dropped although money moved (`payment_fail` would keep it): this money
                # can pay nothing, so nothing waits on the order any more.
                "claimed_order_id": None,
            },
            locked=payment,
        )
    payment_flag_for_review(payment_id=payment.pk, reason=flag_reason, data=details)
    return payment


def _balance_currency(payment: Payment) -> str:
    """The currency the payment's customer's balance is kept in. Read without the user's lock,
    which comes after the payment's and the order's: `balance_credit` checks it again under it."""
    return str(User.objects.values_list("balance_currency", flat=True).get(pk=payment.user_id))


def _credit_to_balance(payment: Payment, amount: Decimal) -> None:
    balance_credit(
        user_id=payment.user_id,
        amount=amount,
        currency=payment.currency,
        entry_type=LedgerEntryType.CREDITED_PAYMENT,
        payment_id=payment.pk,
    )


def payment_fail(*, payment_id: int, reason: str, needs_review: bool) -> Payment:
    """Mark a payment failed with `reason`; `needs_review` makes it a dead letter for staff.

    A payment that failed before it was ever processing passes through processing first, so
    the timeline keeps the status machine's shape. An order payment lets go of its order's
    claim only if no money can have moved for it (`payment_money_may_have_moved`): a dead
    letter that took the money keeps the order until a person has looked, so the customer
    cannot pay it a second time meanwhile.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status == PaymentStatus.PENDING:
            payment_transition(
                payment_id=payment_id,
                to=PaymentStatus.PROCESSING,
                event="processing",
                locked=payment,
            )
        changes: dict[str, Any] = {"failure_reason": reason[:1000], "needs_review": needs_review}
        if payment.claimed_order_id is not None and not payment_money_may_have_moved(payment):
            changes["claimed_order_id"] = None
        return payment_transition(
            payment_id=payment_id,
            to=PaymentStatus.FAILED,
            event="failed",
            data={"reason": reason, "needs_review": needs_review},
            is_error=True,
            changes=changes,
            locked=payment,
        )


def payment_may_take_money(payment: Payment) -> bool:
    """Whether money may move for `payment` now: it is processing and, for an order, holds its
    order's claim, so no other payment of the order can be taking money. Call with the payment
    locked, right before the charge or the debit."""
    return payment.status == PaymentStatus.PROCESSING and (
        payment.kind != PaymentKind.ORDER or payment.claimed_order_id == payment.order_id
    )


def payment_money_may_have_moved(payment: Payment) -> bool:
    """Whether a gateway may have taken money for `payment`: a card charge sent (answered or
    not), a balance debited, ECPay's TradeNo recorded (it reported the payment paid), or a
    wallet that reported success."""
    if payment.gateway == Gateway.CARD:
        return GatewayOperation.objects.filter(
            payment_id=payment.pk,
            kind=OperationKind.CHARGE,
            status__in=[
                OperationStatus.PENDING,
                OperationStatus.UNKNOWN,
                OperationStatus.SUCCEEDED,
            ],
        ).exists()
    if payment.gateway == Gateway.BALANCE:
        return LedgerEntry.objects.filter(
            payment_id=payment.pk, entry_type=LedgerEntryType.ORDER_PAYMENT
        ).exists()
    if payment.gateway == Gateway.ECPAY:
        return bool(payment.gateway_reference)
    return wallet_reported_success(payment_id=payment.pk)


def payment_cancel(*, payment_id: int, actor: User) -> Payment:
    """Cancel a payment no money has moved for yet (pending), at its customer's or staff's word.

    Raises `IllegalTransition` once it has moved on: the pipeline took it up, or it completed;
    `PaymentBeingSettled` while an ECPay notification about it waits for its worker (it may say
    paid). Cancelling lets go of the order's claim, so the order can be paid another way. An
    ECPay customer may still pay a cancelled payment's ATM or store code: that money is then
    credited to their balance and flagged, never lost (`payments.ecpay.notifications.ecpay_paid`).
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != PaymentStatus.PENDING:
            raise IllegalTransition(
                f"Only a pending payment can be cancelled; this one is {payment.status}.",
                from_status=payment.status,
                to_status=PaymentStatus.CANCELLED,
            )
        if ecpay_notification_awaiting(payment):
            raise PaymentBeingSettled()
        return payment_transition(
            payment_id=payment_id,
            to=PaymentStatus.CANCELLED,
            event="cancelled",
            data={"by": actor.email},
            actor=actor,
        )


def payment_reprocess(*, payment_id: int, actor: User | None = None) -> Payment:
    """Take a dead letter (failed, needs review) back to processing so the pipeline runs again.

    Safe whatever happened before: the pipeline never charges again once a charge succeeded.
    An order payment that let go of its order's claim takes it again, or raises
    `OrderPaymentInProgress` / `OrderAlreadyPaid` when another payment has it now. Raises
    `IllegalTransition` for any payment that is not a dead letter, for one failed because
    its money could not be credited (`_payment_fail_not_credited`), and for an ECPay payment
    ECPay never reported paid. What runs next is `payments.tasks.payment_resume`'s, by gateway.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != PaymentStatus.FAILED or not payment.needs_review:
            raise IllegalTransition(
                "Only a failed payment that needs review can be reprocessed.",
                from_status=payment.status,
                to_status=PaymentStatus.PROCESSING,
            )
        if payment.events.filter(type=_FAILED_NOT_CREDITED).exists():
            # Its money can pay nothing and is a person's to return: run again, it would take
            # the order's claim back and keep it (the money moved), for nothing.
            raise IllegalTransition(
                "This payment's money is to be returned at the gateway: it is not run again.",
                from_status=payment.status,
                to_status=PaymentStatus.PROCESSING,
            )
        if payment.gateway == Gateway.ECPAY and not payment.gateway_reference:
            # ECPay's paid notification records its TradeNo as it moves the payment on: without
            # one, ECPay took no money we know of and no step of ours has anything to run. If it
            # does report the money, its notification applies it (or replay it: callbacks).
            raise IllegalTransition(
                "ECPay never reported this payment paid: there is nothing to run again.",
                from_status=payment.status,
                to_status=PaymentStatus.PROCESSING,
            )
        changes: dict[str, Any] = {"needs_review": False, "failure_reason": ""}
        if payment.kind == PaymentKind.ORDER:
            changes["claimed_order_id"] = payment.order_id
        try:
            # A savepoint: the unique claim may refuse, and the transaction must go on to say so.
            with transaction.atomic():
                return payment_transition(
                    payment_id=payment_id,
                    to=PaymentStatus.PROCESSING,
                    event="reprocessed",
                    actor=actor,
                    changes=changes,
                    locked=payment,
                )
        except IntegrityError:
            holder = Payment.objects.filter(claimed_order_id=payment.order_id).first()
            if holder is None:
                raise
            raise claim_refusal(holder) from None
