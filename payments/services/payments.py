"""Every write to payments: creating them, moving their status, and what completes them.

Lock order, everywhere: a payment row, then its order's row, then its user's row. Nothing here
calls a gateway while one of these transactions holds a lock (tokenizing a card happens before).
"""

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from core.exceptions import IllegalTransition
from core.idempotency import IdempotencyKeyReused
from core.models import ZERO
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
from orders.models import Order
from orders.services import order_mark_paid
from payments.exceptions import (
    CardRejected,
    CurrencyMismatch,
    GatewayFailure,
    GatewayUnavailable,
    InsufficientBalance,
    InvalidPayment,
    PaymentBeingSettled,
)
from payments.models import (
    PAYMENT_TRANSITIONS,
    LedgerEntryType,
    Payment,
    PaymentEvent,
    PaymentKind,
    PaymentMethod,
    PaymentStatus,
)
from payments.selectors import ecpay_notification_awaiting
from payments.services.ledger import balance_credit, balance_debit

# What a customer can pay with on ECPay's page.
ECPAY_METHODS = (PaymentMethod.CARD, PaymentMethod.ATM, PaymentMethod.CVS, PaymentMethod.BARCODE)

# Fields a transition may set together with the status, in the same locked save.
_TRANSITION_FIELDS = frozenset(
    {"failure_reason", "gateway_reference", "refunded_amount", "needs_review"}
)


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
    idempotency_key: str | None = None,
) -> Payment:
    """Create a pending payment and its first event. Of a card, only its token is kept.

    With an idempotency key, a second call with the same key and the same parameters returns
    the first payment; with different parameters it raises `IdempotencyKeyReused`. The unique
    constraint on (user, idempotency_key) decides races, not a read before the write.
    """
    if not isinstance(amount, Decimal):
        raise TypeError("Money is Decimal, never float.")
    if amount <= ZERO:
        raise InvalidPayment(fields={"amount": ["Must be greater than zero."]})
    if (kind == PaymentKind.ORDER) != (order is not None):
        raise InvalidPayment("An order payment needs an order, and only an order payment has one.")
    if order is not None and order.user_id != user.pk:
        raise InvalidPayment(fields={"order": ["Not found."]})

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
    try:
        with transaction.atomic():
            # The order itself, not its id: the answer shows its number without reading it again.
            payment = Payment.objects.create(
                user=user,
                order=order,
                idempotency_key=idempotency_key,
                merchant_trade_no=merchant_trade_no,
                **wanted,
                **card_fields,
            )
            PaymentEvent.objects.create(
                payment=payment, type="created", to_status=payment.status, data={"kind": kind}
            )
    except IntegrityError:
        if idempotency_key is None:
            raise
        payment = Payment.objects.get(user=user, idempotency_key=idempotency_key)
        reused_for_another = payment.order_id != (order.pk if order else None) or any(
            getattr(payment, field) != value for field, value in wanted.items()
        )
        if reused_for_another:
            raise IdempotencyKeyReused() from None
    return payment


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
    only the token, brand, last four digits and expiry.
    """
    try:
        token = get_card_gateway().tokenize(card)
    except PaymentDeclinedError:
        raise CardRejected() from None
    except PermanentGatewayError:
        raise GatewayFailure() from None
    except (TransientGatewayError, OutcomeUnknownError):
        raise GatewayUnavailable() from None
    return payment_create(
        user=user,
        kind=kind,
        gateway=Gateway.CARD,
        method=PaymentMethod.CARD,
        amount=amount,
        currency=currency,
        order=order,
        card=token,
        idempotency_key=idempotency_key,
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
    return payment_create(
        user=user,
        kind=kind,
        gateway=Gateway.ECPAY,
        method=method,
        amount=amount,
        currency=currency,
        order=order,
        merchant_trade_no=new_merchant_trade_no(),
        idempotency_key=idempotency_key,
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
    return payment_create(
        user=user,
        kind=PaymentKind.ORDER,
        gateway=Gateway.BALANCE,
        method=PaymentMethod.BALANCE,
        amount=order.total,
        currency=order.currency,
        order=order,
        idempotency_key=idempotency_key,
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
    *, payment_id: int, gateway_reference: str, locked: Payment | None = None
) -> Payment:
    """Mark a processing payment completed and apply what its money pays for, atomically.

    An order payment writes the order's payment header and marks the order paid; a deposit
    credits the balance. Running it again changes nothing: the transition is a no-op and each
    effect is written at most once (unique header per order, one ledger entry per payment).
    If the order was meanwhile paid by another payment, this one still completes (the money was
    taken) but is flagged for review as a double payment. `locked`: as in `payment_transition`.
    """
    # In the caller's transaction when it holds the lock: no savepoint (a round trip each way)
    # for a part that, if it fails, fails the whole.
    with transaction.atomic(savepoint=locked is None):
        if locked is None:
            locked = Payment.objects.select_for_update().get(pk=payment_id)
        payment = payment_transition(
            payment_id=payment_id,
            to=PaymentStatus.COMPLETED,
            event="completed",
            data={"gateway_reference": gateway_reference},
            changes={"gateway_reference": gateway_reference},
            locked=locked,
        )
        if payment.kind == PaymentKind.ORDER:
            header = order_mark_paid(
                # Never None for kind order: the payment_order_iff_kind_order constraint.
                order_id=cast(int, payment.order_id),
                payment_id=payment.pk,
                gateway=payment.gateway,
                method=payment.method,
                gateway_payment_id=gateway_reference,
                total_paid=payment.amount,
                currency=payment.currency,
            )
            if header.payment_id != payment.pk:
                payment_flag_for_review(
                    payment_id=payment.pk,
                    reason="order_already_paid",
                    data={"paid_by": header.payment_id},
                )
        elif payment.kind == PaymentKind.DEPOSIT:
            balance_credit(
                user_id=payment.user_id,
                amount=payment.amount,
                currency=payment.currency,
                entry_type=LedgerEntryType.DEPOSIT,
                payment_id=payment.pk,
            )
    return payment


def payment_fail(*, payment_id: int, reason: str, needs_review: bool) -> Payment:
    """Mark a payment failed with `reason`; `needs_review` makes it a dead letter for staff.

    A payment that failed before it was ever processing passes through processing first, so
    the timeline keeps the status machine's shape.
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
        return payment_transition(
            payment_id=payment_id,
            to=PaymentStatus.FAILED,
            event="failed",
            data={"reason": reason, "needs_review": needs_review},
            is_error=True,
            changes={"failure_reason": reason[:1000], "needs_review": needs_review},
            locked=payment,
        )


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
    paid). An ECPay customer may still pay a cancelled payment's ATM or store code: that
    notification is then flagged for review, so the money is never lost (see
    `payments.ecpay.ecpay_paid`).
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
    Raises `IllegalTransition` for any other payment.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != PaymentStatus.FAILED or not payment.needs_review:
            raise IllegalTransition(
                "Only a failed payment that needs review can be reprocessed.",
                from_status=payment.status,
                to_status=PaymentStatus.PROCESSING,
            )
        return payment_transition(
            payment_id=payment_id,
            to=PaymentStatus.PROCESSING,
            event="reprocessed",
            actor=actor,
            changes={"needs_review": False, "failure_reason": ""},
        )


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
