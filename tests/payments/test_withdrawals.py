"""Withdrawals from the balance, and check_ledger."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Min, Sum
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from payments.exceptions import InsufficientBalance
from payments.models import LedgerEntry, LedgerEntryType, Payment, PaymentKind, PaymentStatus
from payments.services import balance_withdraw
from tests.concurrency import run_at_once
from tests.factories import UserFactory, fund


@pytest.mark.django_db
def test_a_withdrawal_is_a_completed_payment_that_debits_the_balance(customer):
    fund(customer, "500")

    payment = balance_withdraw(user=customer, amount=Decimal("120"), currency="TWD")

    assert (payment.kind, payment.status) == (PaymentKind.WITHDRAWAL, PaymentStatus.COMPLETED)
    customer.refresh_from_db()
    assert customer.balance == Decimal("380")
    entry = LedgerEntry.objects.get(payment=payment)
    assert (entry.entry_type, entry.amount, entry.balance_after) == (
        LedgerEntryType.WITHDRAWAL,
        Decimal("-120"),
        Decimal("380"),
    )
    assert list(payment.events.values_list("type", flat=True).order_by("pk")) == [
        "created",
        "validated",
        "completed",
    ]


@pytest.mark.django_db
def test_a_withdrawal_beyond_the_balance_is_refused_and_leaves_nothing_behind(customer):
    fund(customer, "100")

    with pytest.raises(InsufficientBalance) as refused:
        balance_withdraw(user=customer, amount=Decimal("100.01"), currency="TWD")

    assert refused.value.http_status == 409
    customer.refresh_from_db()
    assert customer.balance == Decimal("100")
    assert not Payment.objects.filter(kind=PaymentKind.WITHDRAWAL).exists()


WITHDRAWERS = 20


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_withdrawals_never_take_the_balance_below_zero():
    user = UserFactory.create()
    fund(user, "100")

    def withdraw_ten() -> str:
        try:
            balance_withdraw(user=user, amount=Decimal("10"), currency="TWD")
        except InsufficientBalance:
            return "refused"
        return "paid out"

    outcomes = run_at_once(withdraw_ten, threads=WITHDRAWERS)

    assert outcomes.count("paid out") == 10
    assert outcomes.count("refused") == 10
    user.refresh_from_db()
    ledger = LedgerEntry.objects.filter(user=user).aggregate(
        total=Sum("amount"), lowest=Min("balance_after")
    )
    assert user.balance == ledger["total"] == Decimal("0")
    assert ledger["lowest"] == Decimal("0")
    assert Payment.objects.filter(kind=PaymentKind.WITHDRAWAL).count() == 10


@pytest.mark.django_db
def test_check_ledger_passes_when_every_balance_matches(customer, capsys):
    fund(customer, "250")
    balance_withdraw(user=customer, amount=Decimal("50"), currency="TWD")

    call_command("check_ledger")

    assert "Every balance matches" in capsys.readouterr().out


@pytest.mark.django_db
def test_check_ledger_names_a_balance_changed_behind_the_ledgers_back(customer, capsys):
    fund(customer, "250")
    User.objects.filter(pk=customer.pk).update(balance=Decimal("300"))

    with pytest.raises(CommandError, match="1 balance"):
        call_command("check_ledger")

    assert f"{customer.email}: balance 300.00 TWD, ledger 250.00, difference 50.00" in (
        capsys.readouterr().out
    )


@pytest.mark.django_db
def test_check_ledger_reads_users_in_batches_and_finds_a_mismatch_in_a_later_one(capsys):
    User.objects.bulk_create(User(email=f"user{number}@example.com") for number in range(600))
    last = User.objects.order_by("pk").last()
    assert last is not None
    User.objects.filter(pk=last.pk).update(balance=Decimal("5"))

    with CaptureQueriesContext(connection) as queries, pytest.raises(CommandError):
        call_command("check_ledger")

    # The count for the progress bar, then per batch of 500: its ids, its sums.
    assert len(queries) == 1 + 2 * 2
    output = capsys.readouterr().out
    assert output == f"{last.email}: balance 5.00 TWD, ledger 0.00, difference 5.00\n"
