"""Which payments `reprocess_payments` takes up (its real runs are in test_card_pipeline)."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from payments.models import Payment, PaymentStatus
from payments.services import payment_fail
from tests.factories import PaymentFactory

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
