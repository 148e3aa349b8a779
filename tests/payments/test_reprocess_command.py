"""Which payments `reprocess_payments` takes up (its real runs are in test_card_pipeline)."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from core.batches import BATCH_SIZE
from payments.models import Payment, PaymentKind, PaymentStatus
from payments.services import payment_fail
from tests.factories import OrderFactory, PaymentFactory, UserFactory

pytestmark = pytest.mark.django_db


def dead_letter(days_old: int = 0) -> Payment:
    payment = PaymentFactory.create(status=PaymentStatus.PROCESSING)
    payment_fail(payment_id=payment.pk, reason="process step crashed", needs_review=True)
    Payment.objects.filter(pk=payment.pk).update(
        created_at=timezone.now() - timedelta(days=days_old)
    )
    return payment


def listed(capsys, *args: str) -> list[str]:
    call_command("reprocess_payments", "--dry-run", *args)
    return [
        line.split()[2]
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("would reprocess pay_")
    ]


def test_by_default_it_takes_dead_letters_only(capsys):
    letter = dead_letter()
    declined = PaymentFactory.create(status=PaymentStatus.PROCESSING)
    payment_fail(payment_id=declined.pk, reason="declined: card_declined", needs_review=False)

    assert listed(capsys) == [letter.public_id]


def test_since_and_limit_narrow_the_selection(capsys):
    old, recent, newest = dead_letter(days_old=10), dead_letter(days_old=1), dead_letter()
    since = (timezone.localdate() - timedelta(days=2)).isoformat()

    assert listed(capsys, "--since", since) == [recent.public_id, newest.public_id]
    assert listed(capsys, "--limit", "1") == [old.public_id]


def test_status_processing_takes_payments_stuck_on_the_way(capsys):
    stuck = PaymentFactory.create(status=PaymentStatus.PROCESSING)
    dead_letter()

    assert listed(capsys, "--status", "processing") == [stuck.public_id]


def test_an_unknown_id_is_an_error():
    with pytest.raises(CommandError, match="no such payment: pay_nope"):
        call_command("reprocess_payments", "pay_nope")


def test_a_bad_since_is_an_error():
    dead_letter()
    with pytest.raises(CommandError, match="--since"):
        call_command("reprocess_payments", "--since", "last week")


def test_the_dry_run_changes_nothing(capsys):
    letter = dead_letter()

    call_command("reprocess_payments", "--dry-run")

    letter.refresh_from_db()
    assert (letter.status, letter.needs_review) == (PaymentStatus.FAILED, True)
    assert capsys.readouterr().out.splitlines()[-1] == "would reprocess 1 payment(s), 0 refused"


def test_a_payment_that_cannot_be_taken_up_exits_1(capsys):
    completed = PaymentFactory.create(status=PaymentStatus.COMPLETED)

    with pytest.raises(CommandError, match="1 payment") as refused:
        call_command("reprocess_payments", completed.public_id)

    assert refused.value.returncode == 1
    assert f"refused {completed.public_id}" in capsys.readouterr().err
    completed.refresh_from_db()
    assert completed.status == PaymentStatus.COMPLETED


def test_a_dead_letter_whose_order_was_paid_another_way_is_refused_and_reported(capsys):
    order = OrderFactory.create()
    failed = PaymentFactory.create(
        user=order.user, kind=PaymentKind.ORDER, order=order, status=PaymentStatus.PROCESSING
    )
    payment_fail(payment_id=failed.pk, reason="gave up after 3 retries", needs_review=True)
    paid = PaymentFactory.create(
        user=order.user, kind=PaymentKind.ORDER, order=order, status=PaymentStatus.COMPLETED
    )

    with pytest.raises(CommandError, match="1 payment"):
        call_command("reprocess_payments", failed.public_id)

    assert f"refused {failed.public_id}: This order has been paid." in capsys.readouterr().err
    assert paid.claimed_order_id == order.pk
    failed.refresh_from_db()
    assert failed.status == PaymentStatus.FAILED


def test_it_walks_past_the_first_batch_up_to_the_limit(capsys):
    user = UserFactory.create()
    Payment.objects.bulk_create(
        PaymentFactory.build(
            user=user, status=PaymentStatus.FAILED, needs_review=True, public_id=f"pay_{n:024d}"
        )
        for n in range(BATCH_SIZE + 20)
    )

    assert len(listed(capsys, "--limit", str(BATCH_SIZE + 5))) == BATCH_SIZE + 5
