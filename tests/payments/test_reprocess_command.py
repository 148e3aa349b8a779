"""Which payments `reprocess_payments` takes up, and what it runs for each gateway's dead letter
(a card's real runs are in test_card_pipeline)."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from core.batches import BATCH_SIZE
from orders.models import OrderStatus
from payments.models import Payment, PaymentKind, PaymentStatus
from payments.services import payment_fail
from tests.factories import OrderFactory, PaymentFactory, UserFactory
from tests.payments.test_ecpay_notifications import deliver, paid_notification, signed
from tests.payments.test_ecpay_notifications import start_payment as start_ecpay_payment
from tests.payments.test_wallet_callbacks import callback_body as wallet_callback_body
from tests.payments.test_wallet_callbacks import post as wallet_post

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


# Each gateway's dead letter runs again from where it stands (`payments.tasks.payment_resume`).


def crashing(*args, **kwargs):
    raise RuntimeError("bug in the update step")


def test_a_wallet_dead_letter_is_settled_as_the_wallet_reported_it(
    client, monkeypatch, django_capture_on_commit_callbacks
):
    order = OrderFactory.create()
    monkeypatch.setattr("payments.wallet.callbacks.payment_complete", crashing)
    with django_capture_on_commit_callbacks(execute=True):
        wallet_post(client, wallet_callback_body(order))
    payment = Payment.objects.get()
    assert (payment.status, payment.needs_review) == (PaymentStatus.FAILED, True)
    monkeypatch.undo()  # the fix is deployed

    with django_capture_on_commit_callbacks(execute=True):
        call_command("reprocess_payments")

    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.status, order.status) == (PaymentStatus.COMPLETED, OrderStatus.PAID)


def test_an_ecpay_dead_letter_ecpay_reported_paid_is_completed(
    client, monkeypatch, django_capture_on_commit_callbacks
):
    payment = start_ecpay_payment()
    monkeypatch.setattr("payments.pipeline.payment_complete", crashing)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, signed(paid_notification(payment))) == "1|OK"
    payment.refresh_from_db()
    assert (payment.status, payment.needs_review) == (PaymentStatus.FAILED, True)
    monkeypatch.undo()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("reprocess_payments", payment.public_id)

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.order.status == OrderStatus.PAID


def test_an_ecpay_payment_ecpay_never_reported_paid_is_not_run_again(capsys):
    payment = start_ecpay_payment()
    payment_fail(payment_id=payment.pk, reason="validate step crashed", needs_review=True)

    with pytest.raises(CommandError):
        call_command("reprocess_payments", payment.public_id)

    assert "ECPay never reported this payment paid" in capsys.readouterr().err
    payment.refresh_from_db()
    assert (payment.status, payment.needs_review) == (PaymentStatus.FAILED, True)
