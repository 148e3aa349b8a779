"""Every write to payments: creating them, moving their status, and what completes them.

Lock order, everywhere: a payment row, then its order's row, then its user's row. Nothing here
calls a gateway while one of these transactions holds a lock (tokenizing a card happens before).
"""

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from core.exceptions import IllegalTransition
from core.idempotency import IdempotencyKeyReused
from core.transitions import check_locked, transition_needed
from gateways.base import (
    CardDetails,
    CardToken,
    OutcomeUnknownError,
    PaymentDeclinedError,
    PermanentGatewayError,
    TransientGatewayError,
)
from gateways.card import get_card_gateway
from gateways.ecpay import new_merchant_trade_no
from gateways.models import Gateway
from orders.models import Order, OrderStatus
from orders.services import order_mark_paid
from payments.exceptions import (
    CardRejected,
    CurrencyMismatch,
    GatewayFailure,
    GatewayUnavailable,
    InsufficientBalance,
    InvalidPayment,
    OrderAlreadyPaid,
    OrderPaymentInProgress,
    PaymentBeingSettled,
)
from payments.limits import ECPAY_PAGE_METHODS, amount_check, balance_room_check
from payments.models import (
    CLAIM_STATUSES,
    PAYMENT_TRANSITIONS,
    GatewayOperation,
    LedgerEntry,
    LedgerEntryType,
    OperationKind,
    OperationStatus,
    Payment,
    PaymentEvent,
    PaymentKind,
    PaymentMethod,
    PaymentStatus,
)
from payments.selectors import (
    ecpay_notification_awaiting,
    payment_unused,
    wallet_reported_success,
)
from payments.services.ledger import balance_credit, balance_debit

# What a customer can pay with on ECPay's page.
ECPAY_METHODS = tuple(ECPAY_PAGE_METHODS)

# Fields a transition may set together with the status, in the same locked save.
# `claimed_order_id` only to take the order's claim again (a reprocessed dead letter) or to let
# go of it (a failure that moved no money): every other move keeps or drops it by itself.
_TRANSITION_FIELDS = frozenset(
    {"failure_reason", "gateway_reference", "refunded_amount", "needs_review", "claimed_order_id"}
)
# How often a customer's new payment tries to take its order's claim from payments that let go
# of it, or were never used, meanwhile (`_create_replacing_unused`): each try follows another
# request's move.
_CLAIM_TRIES = 3


def payment_create(
    *,
    user: User,
    kind: str,
    gateway: str,
    method: str,
    amount: Decimal,
    currency: str,
    order: Order | None = None,
    card: CardToken | None = None,
    merchant_trade_no: str | None = None,
    gateway_reference: str | None = None,
    idempotency_key: str | None = None,
    claim_order: bool = True,
) -> Payment:
    """Create a pending payment and its first event. Of a card, only its token is kept.

    The amount is range-checked first (`payments.limits`; a deposit also against what the
    balance may hold, as `user` was read). An order payment takes its order's claim
    (`Payment.claimed_order`) in the same INSERT: while another payment holds it, the database
    refuses this one, and it raises `OrderPaymentInProgress` (or `OrderAlreadyPaid`) naming that
    payment. `claim_order=False`
    records money that arrived for an order it cannot pay (a wallet's report): it never holds
    the claim.

    With an idempotency key, a second call with the same key and the same parameters returns
    the first payment; with different parameters it raises `IdempotencyKeyReused`. Unique
    constraints decide races, never a read before the write. A `gateway_reference` another
    payment of the gateway has raises the IntegrityError for the caller.
    """
    if not isinstance(amount, Decimal):
        raise TypeError("Money is Decimal, never float.")
    if (kind == PaymentKind.ORDER) != (order is not None):
        raise InvalidPayment("An order payment needs an order, and only an order payment has one.")
    if order is not None and order.user_id != user.pk:
        raise InvalidPayment(fields={"order": ["Not found."]})
    amount_check(kind=kind, gateway=gateway, method=method, amount=amount, currency=currency)
    if kind == PaymentKind.DEPOSIT:
        # The balance as the caller's user was read (the request's authentication read it).
        balance_room_check(balance=user.balance, amount=amount, currency=currency)

    wanted = {
        "kind": kind,
        "gateway": gateway,
        "method": method,
        "amount": amount,
        "currency": currency,
    }
    card_fields = (
        {
            "card_token": card.token,
            "card_brand": card.brand,
            "card_last4": card.last4,
            "card_exp_month": card.exp_month,
            "card_exp_year": card.exp_year,
        }
        if card
        else {}
    )
    claimed = order if claim_order else None
    try:
        with transaction.atomic():
            # The order itself, not its id: the answer shows its number without reading it.
            payment = Payment.objects.create(
                user=user,
                order=order,
                claimed_order=claimed,
                idempotency_key=idempotency_key,
                merchant_trade_no=merchant_trade_no,
                gateway_reference=gateway_reference,
                **wanted,
                **card_fields,
            )
            PaymentEvent.objects.create(
                payment=payment, type="created", to_status=payment.status, data={"kind": kind}
            )
    except IntegrityError:
        earlier = _created_before(
            user=user, idempotency_key=idempotency_key, order=order, wanted=wanted
        )
        if earlier is not None:
            return earlier
        if claimed is None or _reference_taken(gateway, gateway_reference):
            raise
        holder = Payment.objects.filter(claimed_order=claimed).first()
        # No holder: it let go between our INSERT and this read; the caller may try again.
        raise _claim_refusal(holder) from None
    return payment


def _create_replacing_unused(create: Callable[[], Payment], *, order: Order | None) -> Payment:
    """Create a customer's payment with `create`; if a payment of the order nobody can have
    paid holds the order (`payment_abandon_unused`), let go of it and create this one instead.

    Only for payments a customer starts: money a gateway reports never waits on this.
    """
    for _ in range(_CLAIM_TRIES - 1):
        try:
            return create()
        except OrderPaymentInProgress as refused:
            holder = Payment.objects.filter(claimed_order=order).first() if order else None
            if holder is not None and not payment_abandon_unused(payment_id=holder.pk):
                raise refused from None
            # The holder let go meanwhile, or was let go of now: try again.
    return create()


def _created_before(
    *, user: User, idempotency_key: str | None, order: Order | None, wanted: Mapping[str, Any]
) -> Payment | None:
    """The payment an earlier call with this idempotency key created, if any; raises
    `IdempotencyKeyReused` if that call asked for something else."""
    if idempotency_key is None:
        return None
    payment = Payment.objects.filter(user=user, idempotency_key=idempotency_key).first()
    if payment is None:
        return None
    reused_for_another = payment.order_id != (order.pk if order else None) or any(
        getattr(payment, field) != value for field, value in wanted.items()
    )
    if reused_for_another:
        raise IdempotencyKeyReused()
    return payment


def _reference_taken(gateway: str, gateway_reference: str | None) -> bool:
    return bool(
        gateway_reference
        and Payment.objects.filter(gateway=gateway, gateway_reference=gateway_reference).exists()
    )


def _claim_refusal(holder: Payment | None) -> OrderPaymentInProgress | OrderAlreadyPaid:
    if holder is None:
        return OrderPaymentInProgress()
    if holder.status in (PaymentStatus.COMPLETED, PaymentStatus.REFUNDED):
        return OrderAlreadyPaid(payment=holder.public_id)
    return OrderPaymentInProgress(payment=holder.public_id)


def payment_abandon_unused(*, payment_id: int) -> bool:
    """Let go of a payment nobody can have paid (`payments.selectors.payment_unused`): it is
    cancelled, and its order's claim freed for another payment; returns whether it was.

    Under the payment's row lock, against `payment_mark_sent_to_gateway`, which takes the same
    lock: a payment is either sent or abandoned, never both.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        unused = payment_unused(payment)
        if unused:
            payment_transition(
                payment_id=payment_id,
                to=PaymentStatus.CANCELLED,
                event="cancelled",
                data={"by": "system", "reason": "never sent to ECPay; another payment replaced it"},
                locked=payment,
            )
    return unused


def payment_mark_sent_to_gateway(*, payment_id: int) -> bool:
    """Record that the customer's browser is given the signed form to ECPay's page for a
    pending payment; returns False, changing nothing, for a payment no longer pending (it was
    cancelled or replaced: its form must not be handed out). Under the payment's row lock."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().only("status", "sent_to_gateway_at")
        locked = payment.get(pk=payment_id)
        if locked.status != PaymentStatus.PENDING:
            return False
        if locked.sent_to_gateway_at is None:
            Payment.objects.filter(pk=payment_id).update(
                sent_to_gateway_at=timezone.now(), updated_at=timezone.now()
            )
            payment_event_record(payment_id=payment_id, type="sent_to_gateway")
    return True


def payment_create_with_card(
    *,
    user: User,
    kind: str,
    order: Order | None,
    amount: Decimal,
    currency: str,
    card: CardDetails,
    idempotency_key: str | None = None,
) -> Payment:
    """Tokenize the card with the provider at once, then create the pending card payment.

    The card number and CVC go no further than the provider's tokenize call: the payment keeps
    only the token, brand, last four digits and expiry. An amount out of range is refused
    before the provider hears of the card.
    """
    amount_check(
        kind=kind, gateway=Gateway.CARD, method=PaymentMethod.CARD, amount=amount, currency=currency
    )
    try:
        token = get_card_gateway().tokenize(card)
    except PaymentDeclinedError:
        raise CardRejected() from None
    except PermanentGatewayError:
        raise GatewayFailure() from None
    except (TransientGatewayError, OutcomeUnknownError):
        raise GatewayUnavailable() from None
    return _create_replacing_unused(
        lambda: payment_create(
            user=user,
            kind=kind,
            gateway=Gateway.CARD,
            method=PaymentMethod.CARD,
            amount=amount,
            currency=currency,
            order=order,
            card=token,
            idempotency_key=idempotency_key,
        ),
        order=order,
    )


def payment_start_ecpay(
    *,
    user: User,
    kind: str,
    order: Order | None,
    amount: Decimal,
    currency: str,
    method: str,
    idempotency_key: str | None = None,
) -> Payment:
    """Create a pending ECPay payment with a new MerchantTradeNo (never reused: unique in the
    database). The customer pays on ECPay's page; its notification completes the payment."""
    if method not in ECPAY_METHODS:
        raise InvalidPayment(fields={"method": [f"ECPay takes {', '.join(ECPAY_METHODS)}."]})
    if currency != "TWD" or amount != amount.to_integral_value():
        raise InvalidPayment(fields={"amount": ["ECPay takes whole New Taiwan dollars."]})
    return _create_replacing_unused(
        lambda: payment_create(
            user=user,
            kind=kind,
            gateway=Gateway.ECPAY,
            method=method,
            amount=amount,
            currency=currency,
            order=order,
            merchant_trade_no=new_merchant_trade_no(),
            idempotency_key=idempotency_key,
        ),
        order=order,
    )


def payment_start_from_balance(
    *, user: User, order: Order, idempotency_key: str | None = None
) -> Payment:
    """Create a pending payment of `order` from the customer's balance; the pipeline debits it.

    Refuses at once, with a clear error, a balance in another currency or too low now; the
    debit itself checks again under the user's row lock.
    """
    balance = User.objects.only("balance", "balance_currency").get(pk=user.pk)
    if order.currency != balance.balance_currency:
        raise CurrencyMismatch(currency=order.currency, balance_currency=balance.balance_currency)
    if balance.balance < order.total:
        raise InsufficientBalance(available=str(balance.balance), requested=str(order.total))
    return _create_replacing_unused(
        lambda: payment_create(
            user=user,
            kind=PaymentKind.ORDER,
            gateway=Gateway.BALANCE,
            method=PaymentMethod.BALANCE,
            amount=order.total,
            currency=order.currency,
            order=order,
            idempotency_key=idempotency_key,
        ),
        order=order,
    )


def payment_record_code(
    *, payment_id: int, code: str, bank: str, expires_at: datetime | None
) -> None:
    """Keep the ATM account or store code the customer pays with; the payment stays pending."""
    with transaction.atomic():
        Payment.objects.filter(pk=payment_id).update(
            payment_code=code,
            payment_code_bank=bank,
            payment_code_expires_at=expires_at,
            updated_at=timezone.now(),
        )
        payment_event_record(
            payment_id=payment_id,
            type="payment_code_issued",
            data={"bank": bank, "expires_at": expires_at.isoformat() if expires_at else None},
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
    return payment


def payment_event_record(
    *, payment_id: int, type: str, data: Mapping[str, Any] | None = None, is_error: bool = False
) -> PaymentEvent:
    """Write a timeline event that changes no status (a step ran, an attempt was made)."""
    return PaymentEvent.objects.create(
        payment_id=payment_id, type=type, data=dict(data or {}), is_error=is_error
    )


def payment_complete(
    *,
    payment_id: int,
    gateway_reference: str,
    due: Decimal | None = None,
    locked: Payment | None = None,
) -> Payment:
    """Mark a processing payment completed and apply what its money pays for, atomically.

    An order payment writes the order's payment header and marks the order paid, if it holds
    the order's claim and the order still waits for payment; otherwise its money paid nothing
    and is credited to the customer's balance (`payment_credit`). `due` is what the order costs
    (a wallet's payment, re-priced): more paid than that pays the order and credits the rest,
    flagged. A deposit credits the balance. Running it again changes nothing: the transition is
    a no-op and each effect is written at most once (unique header per order, one ledger entry
    per payment and kind). `locked`: as in `payment_transition`.
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
            _order_pay(payment, order, due=due, gateway_reference=gateway_reference)
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
    payment: Payment, order: Order, *, due: Decimal | None, gateway_reference: str
) -> None:
    """Pay `order` (locked) with `payment`, just completed: at most what is `due`, the rest
    credited to the customer's balance and flagged."""
    paid = payment.amount if due is None else min(due, payment.amount)
    order_mark_paid(
        order_id=order.pk,
        payment_id=payment.pk,
        gateway=payment.gateway,
        method=payment.method,
        gateway_payment_id=gateway_reference,
        total_paid=paid,
        currency=payment.currency,
        locked=order,
    )
    if payment.amount > paid:
        _credit_to_balance(payment, payment.amount - paid)
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
    the balance is not kept in cannot be credited: the payment is only flagged, for a person to
    return it at the gateway. Once only: a rerun credits nothing more. `locked`: as in
    `payment_transition`.
    """
    with transaction.atomic(savepoint=locked is None):
        if locked is None:
            locked = Payment.objects.select_for_update().get(pk=payment_id)
        if locked.status == PaymentStatus.CREDITED:
            return locked
        balance_currency = User.objects.values_list("balance_currency", flat=True).get(
            pk=locked.user_id
        )
        details = {"amount": str(locked.amount), "currency": locked.currency, **(data or {})}
        if locked.currency != balance_currency:
            payment_flag_for_review(
                payment_id=payment_id,
                reason=f"{reason}: not credited, another currency",
                data=details,
            )
            return locked
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
    `IllegalTransition` for any payment that is not a dead letter.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != PaymentStatus.FAILED or not payment.needs_review:
            raise IllegalTransition(
                "Only a failed payment that needs review can be reprocessed.",
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
            raise _claim_refusal(holder) from None


def balance_withdraw(*, user: User, amount: Decimal, currency: str) -> Payment:
    """Take `amount` out of the user's balance, as a completed withdrawal payment.

    Raises `InsufficientBalance` if the balance would go below zero; then nothing is written,
    not even the payment. Locks the user's row first: inserting the payment takes a shared lock
    on it (the foreign key's check), and two withdrawals holding that could never both upgrade
    it to the debit's exclusive lock (MariaDB reports a deadlock). The new payment's row cannot
    be waited on by anyone, so taking it second breaks no lock order.
    """
    with transaction.atomic():
        User.objects.select_for_update().only("pk").get(pk=user.pk)
        payment = payment_create(
            user=user,
            kind=PaymentKind.WITHDRAWAL,
            gateway=Gateway.BALANCE,
            method=PaymentMethod.BALANCE,
            amount=amount,
            currency=currency,
        )
        payment_transition(payment_id=payment.pk, to=PaymentStatus.PROCESSING, event="validated")
        balance_debit(
            user_id=user.pk,
            amount=amount,
            currency=currency,
            entry_type=LedgerEntryType.WITHDRAWAL,
            payment_id=payment.pk,
        )
        return payment_transition(
            payment_id=payment.pk, to=PaymentStatus.COMPLETED, event="completed"
        )
