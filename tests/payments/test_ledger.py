"""Balance changes: the ledger services, and their lock under contention."""

import random
from decimal import Decimal

import pytest
from django.db.models import Min, Sum

from accounts.models import User
from payments.exceptions import CurrencyMismatch, InsufficientBalance
from payments.models import LedgerEntry, LedgerEntryType
from payments.services import balance_credit, balance_debit
from tests.concurrency import run_at_once
from tests.factories import PaymentFactory, UserFactory


@pytest.mark.django_db
def test_credit_then_debit_moves_the_balance_and_writes_an_entry_each(customer):
    balance_credit(
        user_id=customer.pk,
        amount=Decimal("300"),
        currency="TWD",
        entry_type=LedgerEntryType.DEPOSIT,
    )
    balance_debit(
        user_id=customer.pk,
        amount=Decimal("120.50"),
        currency="TWD",
        entry_type=LedgerEntryType.WITHDRAWAL,
    )

    customer.refresh_from_db()
    assert customer.balance == Decimal("179.50")
    entries = list(LedgerEntry.objects.filter(user=customer).order_by("pk"))
    assert [(e.amount, e.balance_after) for e in entries] == [
        (Decimal("300"), Decimal("300")),
        (Decimal("-120.50"), Decimal("179.50")),
    ]


@pytest.mark.django_db
def test_a_debit_below_zero_is_refused_and_changes_nothing(customer):
    balance_credit(
        user_id=customer.pk,
        amount=Decimal("100"),
        currency="TWD",
        entry_type=LedgerEntryType.DEPOSIT,
    )

    with pytest.raises(InsufficientBalance) as refused:
        balance_debit(
            user_id=customer.pk,
            amount=Decimal("100.01"),
            currency="TWD",
            entry_type=LedgerEntryType.WITHDRAWAL,
        )

    assert refused.value.extra == {"available": "100.00", "requested": "100.01"}
    customer.refresh_from_db()
    assert customer.balance == Decimal("100")
    assert LedgerEntry.objects.filter(user=customer).count() == 1


@pytest.mark.django_db
def test_posting_a_payment_twice_credits_once(customer):
    deposit = PaymentFactory.create(user=customer, amount=Decimal("250"))

    first = balance_credit(
        user_id=customer.pk,
        amount=Decimal("250"),
        currency="TWD",
        entry_type=LedgerEntryType.DEPOSIT,
        payment_id=deposit.pk,
    )
    second = balance_credit(
        user_id=customer.pk,
        amount=Decimal("250"),
        currency="TWD",
        entry_type=LedgerEntryType.DEPOSIT,
        payment_id=deposit.pk,
    )

    assert first == second
    customer.refresh_from_db()
    assert customer.balance == Decimal("250")


@pytest.mark.django_db
def test_a_credit_in_another_currency_is_refused(customer):
    with pytest.raises(CurrencyMismatch):
        balance_credit(
            user_id=customer.pk,
            amount=Decimal("5"),
            currency="USD",
            entry_type=LedgerEntryType.DEPOSIT,
        )
    assert not LedgerEntry.objects.exists()


@pytest.mark.django_db
def test_money_as_float_is_refused(customer):
    with pytest.raises(TypeError, match="Decimal"):
        balance_credit(
            user_id=customer.pk,
            amount=10.0,  # type: ignore[arg-type]
            currency="TWD",
            entry_type=LedgerEntryType.DEPOSIT,
        )


THREADS = 20
OPERATIONS_PER_THREAD = 10


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_concurrent_credits_and_debits_keep_the_balance_equal_to_the_ledger():
    """20 threads, each with its own connection, credit and debit one user at once."""
    user = UserFactory.create()
    outcomes: list[str] = []
    seeds = iter(range(THREADS))  # one random sequence per thread, the same every run

    def work() -> None:
        rng = random.Random(next(seeds))
        for _ in range(OPERATIONS_PER_THREAD):
            amount = Decimal(rng.choice(["10", "25.50", "40", "99.99"]))
            try:
                if rng.random() < 0.5:
                    balance_credit(
                        user_id=user.pk,
                        amount=amount,
                        currency="TWD",
                        entry_type=LedgerEntryType.DEPOSIT,
                    )
                    outcomes.append("credit")
                else:
                    balance_debit(
                        user_id=user.pk,
                        amount=amount,
                        currency="TWD",
                        entry_type=LedgerEntryType.WITHDRAWAL,
                    )
                    outcomes.append("debit")
            except InsufficientBalance:
                outcomes.append("refused")

    run_at_once(work, threads=THREADS)

    assert len(outcomes) == THREADS * OPERATIONS_PER_THREAD
    assert {"credit", "debit"} <= set(outcomes)
    user.refresh_from_db()
    entries = LedgerEntry.objects.filter(user=user)
    totals = entries.aggregate(total=Sum("amount"), lowest=Min("balance_after"))
    assert user.balance == totals["total"]
    assert totals["lowest"] >= 0
    # Entries were written one at a time under the user's lock: each balance_after is the
    # running sum of the entries before it, so the balance never went below zero in between.
    running = Decimal("0")
    for entry in entries.order_by("pk"):
        running += entry.amount
        assert entry.balance_after == running
    assert entries.count() == outcomes.count("credit") + outcomes.count("debit")
    assert User.objects.get(pk=user.pk).balance >= 0
