"""Replaying a stored callback (`payments.callbacks.replay.callback_replay` and
`replay_callback`): the same code as when it arrived, applied at most once, and recorded under
who replayed it."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from gateways.models import CallbackOutcome, Gateway, GatewayCallback
from gateways.services import callback_record
from payments.callbacks.replay import callback_replay
from payments.models import Payment, PaymentEvent, PaymentStatus
from tests.back_office import manager, reviewer
from tests.concurrency import run_at_once
from tests.factories import OrderFactory
from tests.payments.test_ecpay_notifications import paid_notification, signed, start_payment
from tests.payments.test_wallet_callbacks import callback_body, headers_for, post

WRONG_SECRET = "a-secret-nobody-signs-with"


@pytest.fixture
def applied(django_capture_on_commit_callbacks):
    """Run what a replay queues (the pipeline's next steps) as a worker would, right away."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def wallet_callback_rejected_by_our_mistake(client, settings) -> GatewayCallback:
    """A correctly signed wallet callback that arrived while our copy of the secret was wrong."""
    order = OrderFactory.create()
    right_secret = settings.WALLET_CALLBACK_SECRET
    settings.WALLET_CALLBACK_SECRET = WRONG_SECRET
    response = post(client, callback_body(order), secret=right_secret)
    assert response.status_code == 401
    settings.WALLET_CALLBACK_SECRET = right_secret
    return GatewayCallback.objects.latest("pk")


@pytest.fixture
def rejected_wallet_callback(db, client, settings) -> GatewayCallback:
    return wallet_callback_rejected_by_our_mistake(client, settings)


@pytest.fixture
def unsettled_ecpay_notification(db) -> GatewayCallback:
    """An ECPay notification stored by the view ten minutes ago, whose processing never ran (the
    worker died): ECPay's redelivery, if it comes, comes 5 to 15 minutes after."""
    payment = start_payment()
    callback = callback_record(
        gateway=Gateway.ECPAY,
        body=urlencode(signed(paid_notification(payment))),
        content_type="application/x-www-form-urlencoded",
        headers={},
        remote_addr="127.0.0.1",
    )
    GatewayCallback.objects.filter(pk=callback.pk).update(
        created_at=timezone.now() - timedelta(minutes=10)
    )
    callback.refresh_from_db()
    return callback


def test_a_wallet_callback_rejected_for_our_own_mistake_is_applied_when_replayed(
    rejected_wallet_callback,
):
    assert rejected_wallet_callback.outcome == CallbackOutcome.REJECTED
    staff = manager()

    result = callback_replay(callback_id=rejected_wallet_callback.pk, actor=staff)

    assert result.replayed
    assert result.previous_outcome == CallbackOutcome.REJECTED
    callback = result.callback
    assert callback.outcome == CallbackOutcome.ACCEPTED
    assert callback.signature_valid is True
    payment = Payment.objects.get()
    assert callback.payment == payment
    assert payment.status == PaymentStatus.PROCESSING
    # Who replayed it: the callback's admin history and the payment's timeline.
    entry = LogEntry.objects.get(object_id=str(callback.pk))
    assert entry.user == staff
    assert "was rejected, now accepted" in entry.get_change_message()
    event = PaymentEvent.objects.get(payment=payment, type="callback_replayed")
    assert event.data == {
        "callback": callback.pk,
        "by": staff.email,
        "was": "rejected",
        "now": "accepted",
    }


def test_replaying_twice_applies_the_callback_once(rejected_wallet_callback):
    staff = manager()
    callback_replay(callback_id=rejected_wallet_callback.pk, actor=staff)

    again = callback_replay(callback_id=rejected_wallet_callback.pk, actor=staff)

    assert not again.replayed
    assert again.callback.outcome == CallbackOutcome.ACCEPTED
    assert Payment.objects.count() == 1
    assert LogEntry.objects.count() == 1


def test_a_forged_callback_stays_rejected_when_replayed(client, db):
    order = OrderFactory.create()
    post(client, callback_body(order), secret=WRONG_SECRET)
    forged = GatewayCallback.objects.get()

    result = callback_replay(callback_id=forged.pk, actor=manager())

    assert result.callback.outcome == CallbackOutcome.REJECTED
    assert result.callback.signature_valid is False
    assert not Payment.objects.exists()


@pytest.mark.parametrize(("arrived_hours_ago", "outcome"), [(6, "accepted"), (0, "rejected")])
def test_a_replay_judges_the_signature_by_when_the_callback_arrived(db, arrived_hours_ago, outcome):
    # Signed six hours ago: far outside the five minutes a live callback gets. Replayed now,
    # it is good if it arrived back then, and refused if it only arrived now (a captured copy).
    body = callback_body(OrderFactory.create())
    callback = callback_record(
        gateway=Gateway.WALLET,
        body=body.decode(),
        content_type="application/json",
        headers=headers_for(body, age=6 * 3600),
        remote_addr="127.0.0.1",
    )
    GatewayCallback.objects.filter(pk=callback.pk).update(
        created_at=timezone.now() - timedelta(hours=arrived_hours_ago)
    )

    result = callback_replay(callback_id=callback.pk, actor=manager())

    assert result.callback.outcome == outcome


def test_an_ecpay_notification_never_processed_is_applied_by_a_replay(
    unsettled_ecpay_notification, applied, mailoutbox
):
    with applied():
        result = callback_replay(callback_id=unsettled_ecpay_notification.pk, actor=manager())

    assert result.previous_outcome == CallbackOutcome.RECEIVED
    assert result.callback.outcome == CallbackOutcome.ACCEPTED
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.COMPLETED
    assert len(mailoutbox) == 1


def test_an_ecpay_notification_whose_payment_moved_already_is_a_duplicate_not_a_second_charge(
    unsettled_ecpay_notification, client, applied, mailoutbox
):
    # Stored more than a week ago, so no drain takes it any more (only staff, by a replay). The
    # gateway delivered it again meanwhile, and that copy was applied.
    GatewayCallback.objects.filter(pk=unsettled_ecpay_notification.pk).update(
        created_at=timezone.now() - timedelta(days=8)
    )
    with applied():
        client.post(
            "/callbacks/ecpay/notify/",
            unsettled_ecpay_notification.body,
            content_type="application/x-www-form-urlencoded",
        )
    assert Payment.objects.get().status == PaymentStatus.COMPLETED

    with applied():
        result = callback_replay(callback_id=unsettled_ecpay_notification.pk, actor=manager())

    assert result.callback.outcome == CallbackOutcome.DUPLICATE
    assert len(mailoutbox) == 1


# The command


def test_the_command_dry_run_says_what_it_would_replay_and_changes_nothing(
    rejected_wallet_callback, capsys
):
    call_command("replay_callback", str(rejected_wallet_callback.pk), "--dry-run")

    output = capsys.readouterr().out
    assert f"would replay callback {rejected_wallet_callback.pk} (wallet" in output
    assert "was rejected: The signature does not match." in output
    rejected_wallet_callback.refresh_from_db()
    assert rejected_wallet_callback.outcome == CallbackOutcome.REJECTED
    assert not Payment.objects.exists()


def test_the_command_replays_under_the_staff_member_it_names(rejected_wallet_callback, capsys):
    staff = manager()

    call_command("replay_callback", str(rejected_wallet_callback.pk), "--by", staff.email)

    output = capsys.readouterr().out
    assert f"replayed callback {rejected_wallet_callback.pk} (wallet" in output
    assert output.strip().endswith("now accepted")
    assert LogEntry.objects.get().user == staff
    assert Payment.objects.count() == 1

    call_command("replay_callback", str(rejected_wallet_callback.pk), "--by", staff.email)

    assert "accepted already, not replayed" in capsys.readouterr().out
    assert Payment.objects.count() == 1


def test_the_command_exits_1_when_the_callback_is_still_rejected(client, db):
    post(client, callback_body(OrderFactory.create()), secret=WRONG_SECRET)
    forged = GatewayCallback.objects.get()

    with pytest.raises(CommandError, match="now rejected") as refused:
        call_command("replay_callback", str(forged.pk), "--by", manager().email)

    assert refused.value.returncode == 1


@pytest.mark.parametrize("by", ["nobody@example.com", "reviewer", None])
def test_the_command_exits_2_for_someone_not_allowed_to_replay(rejected_wallet_callback, by):
    if by == "reviewer":
        by = reviewer().email
    args = [str(rejected_wallet_callback.pk)] + (["--by", by] if by else [])

    with pytest.raises(CommandError) as refused:
        call_command("replay_callback", *args)

    assert refused.value.returncode == 2
    rejected_wallet_callback.refresh_from_db()
    assert rejected_wallet_callback.outcome == CallbackOutcome.REJECTED
    assert not LogEntry.objects.exists()


@pytest.mark.django_db
def test_the_command_exits_2_for_an_unknown_callback():
    with pytest.raises(CommandError, match="no callback 404") as refused:
        call_command("replay_callback", "404", "--dry-run")

    assert refused.value.returncode == 2


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_staff_replaying_the_same_callback_at_once_apply_it_once(settings):
    callback = wallet_callback_rejected_by_our_mistake(Client(), settings)
    staff = manager()

    results = run_at_once(lambda: callback_replay(callback_id=callback.pk, actor=staff), threads=5)

    assert [result.replayed for result in results].count(True) == 1
    assert {result.callback.outcome for result in results} == {CallbackOutcome.ACCEPTED}
    assert Payment.objects.count() == 1
    assert LogEntry.objects.count() == 1
