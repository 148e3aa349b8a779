"""The drain that applies stored ECPay notifications
(`payments.ecpay.notifications.ecpay_notification_receive` decides whether a request queues
one; `ecpay_notifications_apply_waiting` applies them).

What must hold: every notification answered 1|OK is applied exactly once, whether its own
request queued a drain or counted on the drain of one stored before it; a drain whose publish
was lost is replaced; drains running at once share a backlog, never applying one twice.
"""

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import OperationalError
from django.utils import timezone

from gateways.models import CallbackOutcome, Gateway, GatewayCallback
from gateways.services import callback_record
from payments import tasks
from payments.ecpay.notifications import (
    NOTIFICATION_DRAIN_COVERS,
    ecpay_notification_receive,
    ecpay_notifications_apply_waiting,
)
from payments.models import Payment, PaymentStatus
from payments.tasks import ecpay_notifications_drain
from tests.concurrency import run_at_once
from tests.payments.test_ecpay_notifications import (
    NOTIFY,
    deliver,
    paid_notification,
    signed,
    start_payment,
)


def paid(payment: Payment) -> dict[str, str]:
    """ECPay's signed "paid" notification for `payment`, with a TradeNo of its own."""
    return signed(paid_notification(payment, TradeNo=f"{2400000000000000 + payment.pk}"))


def statuses(payments: list[Payment]) -> list[str]:
    return [Payment.objects.get(pk=payment.pk).status for payment in payments]


def outcomes() -> list[str]:
    return list(GatewayCallback.objects.order_by("pk").values_list("outcome", flat=True))


def stored_unapplied(payments: list[Payment]) -> None:
    """Paid notifications for `payments`, stored as the view stores them, none applied yet."""
    for payment in payments:
        callback_record(
            gateway=Gateway.ECPAY,
            external_reference=payment.merchant_trade_no or "",
            body=urlencode(paid(payment)),
            content_type="application/x-www-form-urlencoded",
            headers={},
            remote_addr="127.0.0.1",
            signature_valid=True,
        )


@pytest.mark.django_db
def test_a_notification_behind_a_waiting_one_queues_no_drain_and_the_first_drain_applies_both(
    client, django_capture_on_commit_callbacks, mailoutbox
):
    payments = [start_payment(), start_payment()]

    with django_capture_on_commit_callbacks() as queued:
        for payment in payments:
            assert deliver(client, paid(payment)) == "1|OK"
    assert len(queued) == 1
    with django_capture_on_commit_callbacks(execute=True):
        queued[0]()

    assert statuses(payments) == [PaymentStatus.COMPLETED] * 2
    assert outcomes() == [CallbackOutcome.ACCEPTED] * 2
    assert len(mailoutbox) == 2


@pytest.mark.django_db
def test_a_notification_behind_one_waiting_too_long_queues_a_drain_of_its_own(
    client, django_capture_on_commit_callbacks
):
    late, next_one = start_payment(), start_payment()
    with django_capture_on_commit_callbacks(execute=False):
        # Its drain's publish was lost (the broker blinked).
        deliver(client, paid(late))
    waited = timezone.now() - NOTIFICATION_DRAIN_COVERS - timedelta(seconds=1)
    GatewayCallback.objects.update(created_at=waited)

    with django_capture_on_commit_callbacks() as queued:
        deliver(client, paid(next_one))
    assert len(queued) == 1
    with django_capture_on_commit_callbacks(execute=True):
        queued[0]()

    assert statuses([late, next_one]) == [PaymentStatus.COMPLETED] * 2


@pytest.mark.django_db
def test_a_drain_that_finds_a_backlog_shares_it_and_queues_its_own_continuation(
    monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(tasks, "DRAIN_SHARED_AFTER", 2)
    monkeypatch.setattr(tasks, "DRAIN_BATCH", 4)
    payments = [start_payment() for _ in range(7)]
    stored_unapplied(payments)
    drains_queued: list[object] = []
    monkeypatch.setattr(ecpay_notifications_drain, "delay", lambda: drains_queued.append(1))

    with django_capture_on_commit_callbacks(execute=True):
        ecpay_notifications_drain()

    # Two applied, a helper queued, two more: the batch is done and its continuation queued.
    assert outcomes().count(CallbackOutcome.ACCEPTED) == 4
    assert len(drains_queued) == 2
    with django_capture_on_commit_callbacks(execute=True):
        ecpay_notifications_drain()
        ecpay_notifications_drain()
    assert statuses(payments) == [PaymentStatus.COMPLETED] * 7
    # The last drain found one and stopped: nothing more queued.
    assert len(drains_queued) == 3


@pytest.mark.django_db
def test_a_database_failure_while_draining_is_retried_and_leaves_the_notification_waiting(
    monkeypatch, caplog
):
    payment = start_payment()
    stored_unapplied([payment])
    retries: list[dict[str, object]] = []
    monkeypatch.setattr(
        ecpay_notifications_drain,
        "apply_async",
        lambda args, kwargs, countdown: retries.append(kwargs),
    )

    def lose_the_connection(*args: object, **kwargs: object) -> None:
        raise OperationalError(2013, "Lost connection to server during query")

    with monkeypatch.context() as patched:
        patched.setattr("payments.ecpay.notifications.ecpay_paid", lose_the_connection)
        ecpay_notifications_drain()

    assert outcomes() == [CallbackOutcome.RECEIVED]
    assert retries == [{"retry": 1}]
    assert "ECPay notifications not applied, retrying" in caplog.text
    ecpay_notifications_drain(retry=1)
    assert outcomes() == [CallbackOutcome.ACCEPTED]


DRAINS = 4
BACKLOG = 60


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_drains_running_at_once_share_a_backlog_applying_each_notification_once(mailoutbox):
    payments = [start_payment() for _ in range(BACKLOG)]
    stored_unapplied(payments)

    applied = run_at_once(lambda: ecpay_notifications_apply_waiting(limit=1000), threads=DRAINS)

    assert sum(applied) == BACKLOG
    # SKIP LOCKED: each took a share, none waited for another's notification and applied it too.
    assert all(count > 0 for count in applied), applied
    assert outcomes() == [CallbackOutcome.ACCEPTED] * BACKLOG
    for payment in payments:
        assert payment.events.filter(to_status=PaymentStatus.PROCESSING).count() == 1
    assert statuses(payments).count(PaymentStatus.PENDING) == 0


@pytest.mark.django_db
def test_a_refused_notification_a_drain_took_first_is_settled_once_and_refused(client, monkeypatch):
    payment = start_payment()
    receive = ecpay_notification_receive

    def drained_first(*, callback: GatewayCallback, **checked: Any) -> str:
        # A drain, running for other notifications, finds this one the moment it is stored.
        ecpay_notifications_apply_waiting(limit=10)
        return receive(callback=callback, **checked)

    monkeypatch.setattr("payments.callbacks.views.ecpay_notification_receive", drained_first)

    assert deliver(client, {**paid(payment), "TradeAmt": "1"}) == "0|CheckMacValue error"
    assert deliver(client, signed(paid_notification(payment, TradeAmt="1"))) == (
        "0|TradeAmt does not match"
    )

    assert outcomes() == [CallbackOutcome.REJECTED] * 2
    assert payment.events.filter(type="flagged_for_review").count() == 1


@pytest.mark.django_db
def test_a_form_of_too_many_fields_is_stored_and_refused_at_once_never_left_waiting(client):
    junk = "&".join(f"f{number}=x" for number in range(1500))

    answer = client.post(NOTIFY, junk, content_type="application/x-www-form-urlencoded")

    assert (answer.status_code, answer.content.decode()[:2]) == (200, "0|")
    assert outcomes() == [CallbackOutcome.REJECTED]


@pytest.mark.django_db
def test_an_unsigned_callback_still_waiting_holds_no_notification_back(
    client, django_capture_on_commit_callbacks
):
    payment = start_payment()
    # Stored a moment ago by a request still running: anyone could have sent it.
    callback_record(
        gateway=Gateway.ECPAY,
        external_reference=payment.merchant_trade_no or "",
        body="MerchantTradeNo=" + (payment.merchant_trade_no or ""),
        content_type="application/x-www-form-urlencoded",
        headers={},
        remote_addr="203.0.113.9",
    )

    with django_capture_on_commit_callbacks() as queued:
        assert deliver(client, paid(payment)) == "1|OK"

    assert len(queued) == 1
