"""`manage.py expire_pending`: which payments it expires, its dry run, batches and exit code."""

import threading
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.batches import BATCH_SIZE
from gateways.models import Gateway
from payments.models import Payment, PaymentMethod, PaymentStatus
from payments.services import payment_expire
from payments.tasks import payments_expire_pending
from tests.factories import PaymentFactory, UserFactory

pytestmark = pytest.mark.django_db

DAY = 24 * 60


def pending(*, minutes_old: int, **fields: object) -> Payment:
    payment = PaymentFactory.create(status=PaymentStatus.PENDING, **fields)
    Payment.objects.filter(pk=payment.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_old)
    )
    return payment


def atm(*, minutes_old: int, code_valid_for: timedelta) -> Payment:
    return pending(
        minutes_old=minutes_old,
        gateway=Gateway.ECPAY,
        method=PaymentMethod.ATM,
        payment_code="9103522175887271",
        payment_code_expires_at=timezone.now() + code_valid_for,
    )


def status_of(payment: Payment) -> str:
    payment.refresh_from_db()
    return payment.status


def test_payments_pending_longer_than_the_limit_expire_with_an_event(capsys):
    old, recent = pending(minutes_old=DAY + 5), pending(minutes_old=DAY - 5)

    call_command("expire_pending")

    assert status_of(old) == PaymentStatus.EXPIRED
    assert status_of(recent) == PaymentStatus.PENDING
    assert old.events.filter(type="expired", from_status="pending").count() == 1
    out = capsys.readouterr().out
    assert f"expired {old.public_id}" in out
    assert "expired 1 payment(s), skipped 0, 0 failed" in out


def test_older_than_chooses_the_limit(settings):
    payment = pending(minutes_old=45)

    call_command("expire_pending", "--older-than", "60")
    assert status_of(payment) == PaymentStatus.PENDING
    call_command("expire_pending", "--older-than", "30")
    assert status_of(payment) == PaymentStatus.EXPIRED


def test_an_atm_payment_waits_for_its_code_deadline():
    still_payable = atm(minutes_old=3 * DAY, code_valid_for=timedelta(hours=2))
    past_deadline = atm(minutes_old=3 * DAY, code_valid_for=-timedelta(minutes=1))

    call_command("expire_pending")

    assert status_of(still_payable) == PaymentStatus.PENDING
    assert status_of(past_deadline) == PaymentStatus.EXPIRED


def test_the_service_skips_a_payment_that_moved_on_or_whose_code_is_valid():
    moved_on = PaymentFactory.create(status=PaymentStatus.PROCESSING)
    payable = atm(minutes_old=3 * DAY, code_valid_for=timedelta(hours=2))

    assert payment_expire(payment_id=moved_on.pk).status == PaymentStatus.PROCESSING
    assert payment_expire(payment_id=payable.pk).status == PaymentStatus.PENDING
    assert not moved_on.events.exists()
    assert not payable.events.exists()


def test_expiring_twice_changes_nothing_the_second_time():
    payment = pending(minutes_old=2 * DAY)
    payment_expire(payment_id=payment.pk)

    assert payment_expire(payment_id=payment.pk).status == PaymentStatus.EXPIRED
    assert payment.events.filter(type="expired").count() == 1


def test_the_dry_run_lists_them_and_changes_nothing(capsys):
    payment = pending(minutes_old=2 * DAY)
    pending(minutes_old=10)

    call_command("expire_pending", "--dry-run")

    assert status_of(payment) == PaymentStatus.PENDING
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"would expire {payment.public_id} (pending since ")
    assert lines[-1] == "would expire 1 payment(s)"


def test_limit_takes_the_oldest_first(capsys):
    first, second = pending(minutes_old=3 * DAY), pending(minutes_old=2 * DAY)

    call_command("expire_pending", "--limit", "1")

    assert (status_of(first), status_of(second)) == (PaymentStatus.EXPIRED, PaymentStatus.PENDING)


def test_a_bad_older_than_is_refused():
    with pytest.raises(CommandError, match="older-than"):
        call_command("expire_pending", "--older-than", "0")


def test_the_dry_run_costs_one_query_a_batch_however_many_payments(capsys):
    user = UserFactory.create()
    created = timezone.now() - timedelta(days=2)
    Payment.objects.bulk_create(
        Payment(
            user=user,
            kind="deposit",
            gateway=Gateway.CARD,
            method=PaymentMethod.CARD,
            amount="100.00",
            currency="TWD",
            public_id=f"pay_bulk{number:020d}",
        )
        for number in range(3 * BATCH_SIZE + 10)
    )
    Payment.objects.update(created_at=created)

    with CaptureQueriesContext(connection) as queries:
        call_command("expire_pending", "--dry-run", verbosity=0)

    assert "would expire 1510 payment(s)" in capsys.readouterr().out
    # A count for the progress bar, then the ids and the rows of each of the four batches.
    assert len(queries) == 1 + 4 * 2


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_a_payment_locked_elsewhere_is_left_for_the_next_run_and_exits_1(capsys):
    locked, free = pending(minutes_old=2 * DAY), pending(minutes_old=2 * DAY)
    holding, release = threading.Event(), threading.Event()

    def hold_the_row_lock() -> None:
        try:
            with transaction.atomic():
                Payment.objects.select_for_update().get(pk=locked.pk)
                holding.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_row_lock)
    holder.start()
    holding.wait(timeout=10)
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")
    try:
        with pytest.raises(CommandError, match="1 payment"):
            call_command("expire_pending")
    finally:
        release.set()
        holder.join()
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION innodb_lock_wait_timeout = DEFAULT")

    assert status_of(locked) == PaymentStatus.PENDING
    assert status_of(free) == PaymentStatus.EXPIRED
    captured = capsys.readouterr()
    assert f"could not expire payment #{locked.pk}" in captured.err
    assert "expired 1 payment(s), skipped 0, 1 failed" in captured.out


def test_the_beat_task_expires_what_the_command_would(settings):
    settings.EXPIRE_PENDING_AFTER_MINUTES = 60
    old = pending(minutes_old=61)
    still_payable = atm(minutes_old=2 * DAY, code_valid_for=timedelta(hours=1))
    recent = pending(minutes_old=59)

    assert payments_expire_pending.delay().get() == 1

    assert status_of(old) == PaymentStatus.EXPIRED
    assert status_of(still_payable) == PaymentStatus.PENDING
    assert status_of(recent) == PaymentStatus.PENDING
