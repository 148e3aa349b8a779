"""Every write to payments and balances.

Lock order, everywhere: a payment row before its user's row. Nothing here calls a gateway; a
network call never happens while one of these transactions holds a lock.
"""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from core.exceptions import IllegalTransition
from core.models import ZERO
from orders.models import Order
from payments.exceptions import (
    CurrencyMismatch,
    IdempotencyKeyReused,
    InsufficientBalance,
    InvalidPayment,
)
from payments.models import (
    CREDIT_ENTRY_TYPES,
    DEBIT_ENTRY_TYPES,
    PAYMENT_TRANSITIONS,
    LedgerEntry,
    Payment,
    PaymentEvent,
    PaymentKind,
    PaymentStatus,
)

# Fields a transition may set together with the status, in the same locked save.
_TRANSITION_FIELDS = frozenset(
    {"failure_reason", "gateway_reference", "refunded_amount", "card_brand", "card_last4"}
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
    idempotency_key: str | None = None,
) -> Payment:
    """Create a pending payment and its first event.

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
        "order_id": order.pk if order else None,
    }
    try:
        with transaction.atomic():
            payment = Payment.objects.create(user=user, idempotency_key=idempotency_key, **wanted)
            PaymentEvent.objects.create(
                payment=payment, type="created", to_status=payment.status, data={"kind": kind}
            )
    except IntegrityError:
        if idempotency_key is None:
            raise
        payment = Payment.objects.get(user=user, idempotency_key=idempotency_key)
        if any(getattr(payment, field) != value for field, value in wanted.items()):
            raise IdempotencyKeyReused() from None
    return payment


def payment_transition(
    *,
    payment_id: int,
    to: str,
    event: str,
    data: Mapping[str, Any] | None = None,
    is_error: bool = False,
    actor: User | None = None,
    changes: Mapping[str, Any] | None = None,
) -> Payment:
    """Move a payment to status `to`: the only code that changes `Payment.status`.

    Locks the payment row for the whole change. A repeat of a move already made (the payment is
    already in `to`) is a no-op and writes nothing, so redelivered tasks and duplicate callbacks
    are harmless. A move the transition table does not allow raises `IllegalTransition` and
    saves nothing. `changes` sets other fields in the same save (see `_TRANSITION_FIELDS`).
    """
    changes = dict(changes or {})
    unknown = set(changes) - _TRANSITION_FIELDS
    if unknown:
        raise ValueError(f"payment_transition cannot set {sorted(unknown)}")

    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        from_status = payment.status
        if from_status == to:
            return payment
        if to not in PAYMENT_TRANSITIONS[from_status]:
            raise IllegalTransition(
                f"A {from_status} payment cannot become {to}.",
                from_status=from_status,
                to_status=to,
            )
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


def balance_credit(
    *,
    user_id: int,
    amount: Decimal,
    currency: str,
    entry_type: str,
    payment_id: int | None = None,
) -> LedgerEntry:
    """Add `amount` to the user's balance and write the ledger entry for it."""
    if entry_type not in CREDIT_ENTRY_TYPES:
        raise ValueError(f"{entry_type} is not a credit")
    return _ledger_post(
        user_id=user_id,
        signed_amount=amount,
        currency=currency,
        entry_type=entry_type,
        payment_id=payment_id,
    )


def balance_debit(
    *,
    user_id: int,
    amount: Decimal,
    currency: str,
    entry_type: str,
    payment_id: int | None = None,
) -> LedgerEntry:
    """Take `amount` from the user's balance.

    Raises `InsufficientBalance`, and changes nothing, if the balance would go below zero.
    """
    if entry_type not in DEBIT_ENTRY_TYPES:
        raise ValueError(f"{entry_type} is not a debit")
    return _ledger_post(
        user_id=user_id,
        signed_amount=-amount,
        currency=currency,
        entry_type=entry_type,
        payment_id=payment_id,
    )


def _ledger_post(
    *,
    user_id: int,
    signed_amount: Decimal,
    currency: str,
    entry_type: str,
    payment_id: int | None,
) -> LedgerEntry:
    """Lock the user's row, write the entry and the new balance in one transaction.

    The row lock serialises every balance change of one user, so `balance_after` is exact and
    the balance equals the sum of the ledger. A payment posts each entry type at most once:
    posting it again returns the entry already written and moves nothing.
    """
    if not isinstance(signed_amount, Decimal):
        raise TypeError("Money is Decimal, never float.")
    if signed_amount == ZERO:
        raise InvalidPayment(fields={"amount": ["Must not be zero."]})

    with transaction.atomic():
        user = (
            User.objects.select_for_update()
            .only("pk", "balance", "balance_currency")
            .get(pk=user_id)
        )
        if currency != user.balance_currency:
            raise CurrencyMismatch(currency=currency, balance_currency=user.balance_currency)
        if payment_id is not None:
            already_posted = LedgerEntry.objects.filter(
                payment_id=payment_id, entry_type=entry_type
            ).first()
            if already_posted is not None:
                return already_posted
        new_balance = user.balance + signed_amount
        if new_balance < ZERO:
            raise InsufficientBalance(available=str(user.balance), requested=str(-signed_amount))
        entry = LedgerEntry.objects.create(
            user_id=user_id,
            payment_id=payment_id,
            entry_type=entry_type,
            amount=signed_amount,
            currency=currency,
            balance_after=new_balance,
        )
        user.balance = new_balance
        user.save(update_fields=["balance"])
    return entry
