"""Every change to a balance: a ledger entry under the user's row lock."""

from decimal import Decimal

from django.db import transaction

from accounts.models import User
from core.models import ZERO
from payments.exceptions import CurrencyMismatch, InsufficientBalance, InvalidPayment
from payments.models import CREDIT_ENTRY_TYPES, DEBIT_ENTRY_TYPES, LedgerEntry


def balance_credit(
    *,
    user_id: int,
    amount: Decimal,
    currency: str,
    entry_type: str,
    payment_id: int | None = None,
    refund_number: int = 0,
) -> LedgerEntry:
    """Add `amount` to the user's balance and write the ledger entry for it. A refund says
    which of the payment's refunds it is, so each is posted once."""
    if entry_type not in CREDIT_ENTRY_TYPES:
        raise ValueError(f"{entry_type} is not a credit")
    return _ledger_post(
        user_id=user_id,
        signed_amount=amount,
        currency=currency,
        entry_type=entry_type,
        payment_id=payment_id,
        refund_number=refund_number,
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
        refund_number=0,
    )


def _ledger_post(
    *,
    user_id: int,
    signed_amount: Decimal,
    currency: str,
    entry_type: str,
    payment_id: int | None,
    refund_number: int,
) -> LedgerEntry:
    """Lock the user's row, write the entry and the new balance in one transaction.

    The row lock serialises every balance change of one user, so `balance_after` is exact and
    the balance equals the sum of the ledger. A payment posts each entry type (and each of its
    refunds) at most once: posting it again returns the entry already written and moves nothing.
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
                payment_id=payment_id, entry_type=entry_type, refund_number=refund_number
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
            refund_number=refund_number,
            amount=signed_amount,
            currency=currency,
            balance_after=new_balance,
        )
        user.balance = new_balance
        user.save(update_fields=["balance"])
    return entry
