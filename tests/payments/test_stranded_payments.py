"""Payments whose pipeline message never ran are resumed by the stranded-payment sweep.

Each test leaves a payment as a lost message would (recorded, never queued: the API's
`pipeline_start` or a callback's queueing is kept from running), ages it past
PIPELINE_STRANDED_AFTER_SECONDS and runs the sweep. Tasks run in-process; the real broker going
down is tests/integration/test_broker_down.py.
"""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from gateways.models import CallbackOutcome, Gateway, GatewayCallback
from gateways.services import gateway_set_paused
from orders.models import OrderStatus
from payments.ecpay.notifications import NOTIFICATION_DRAIN_COVERS
from payments.models import Payment, PaymentStatus
from payments.tasks import payments_resume_stranded
from tests.factories import OrderFactory, card_payment_body
from tests.payments.test_ecpay_notifications import (
    deliver,
    paid_notification,
    signed,
    start_payment,
)
from tests.payments.test_wallet_callbacks import callback_body, post

pytestmark = pytest.mark.django_db

STRANDED_AFTER = 300


@pytest.fixture(autouse=True)
def stranded_after(settings, card_provider):
    settings.PIPELINE_STRANDED_AFTER_SECONDS = STRANDED_AFTER


@pytest.fixture
def card_payment_never_queued(customer, api_client_for, no_pipeline):
    """A card payment the API recorded and answered 202 for, whose pipeline never started."""

    def create() -> Payment:
        order = OrderFactory.create(user=customer)
        body = card_payment_body(order)
        response = api_client_for(customer).post("/api/v1/payments/", body, format="json")
        assert response.status_code == 202
        return Payment.objects.get(public_id=response.json()["id"])

    return create


def age(payment: Payment, seconds: int = STRANDED_AFTER + 1) -> None:
    moment = timezone.now() - timedelta(seconds=seconds)
    Payment.objects.filter(pk=payment.pk).update(created_at=moment, updated_at=moment)


def age_callback(callback: GatewayCallback, seconds: int = STRANDED_AFTER + 1) -> None:
    moment = timezone.now() - timedelta(seconds=seconds)
    GatewayCallback.objects.filter(pk=callback.pk).update(created_at=moment)


def apply_losing_what_it_queues(notification: dict[str, str], capture_on_commit) -> None:
    """Deliver an ECPay notification and apply it as the worker does; what applying it queued
    (update → notify, or the failure's notice) is lost."""
    with capture_on_commit(execute=False) as queued:
        assert deliver(Client(), notification) == "1|OK"
    with capture_on_commit(execute=False):
        for apply in queued:
            apply()


def sweep(django_capture_on_commit_callbacks) -> int:
    with django_capture_on_commit_callbacks(execute=True):
        return payments_resume_stranded()


def test_a_card_payment_never_queued_is_charged_once_and_completed(
    card_payment_never_queued, django_capture_on_commit_callbacks, mailoutbox
):
    payment = card_payment_never_queued()
    age(payment)

    assert sweep(django_capture_on_commit_callbacks) == 1
    assert sweep(django_capture_on_commit_callbacks) == 0

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.attempts == 1
    assert payment.order.status == OrderStatus.PAID
    assert len(mailoutbox) == 1


def test_a_payment_still_inside_its_waiting_time_is_left_alone(
    card_payment_never_queued, django_capture_on_commit_callbacks
):
    payment = card_payment_never_queued()
    age(payment, seconds=STRANDED_AFTER - 30)

    assert sweep(django_capture_on_commit_callbacks) == 0
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


def test_a_pending_ecpay_payment_waits_for_its_customer_not_for_the_sweep(
    django_capture_on_commit_callbacks,
):
    payment = start_payment()
    age(payment)

    assert sweep(django_capture_on_commit_callbacks) == 0
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


def test_a_paused_gateways_payments_are_left_waiting(
    card_payment_never_queued, django_capture_on_commit_callbacks
):
    payment = card_payment_never_queued()
    age(payment)
    gateway_set_paused(gateway=Gateway.CARD, paused=True, by=None)

    assert sweep(django_capture_on_commit_callbacks) == 0

    gateway_set_paused(gateway=Gateway.CARD, paused=False, by=None)
    assert sweep(django_capture_on_commit_callbacks) == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED


def test_an_ecpay_notification_whose_drain_was_lost_is_applied_by_the_next_sweep(
    django_capture_on_commit_callbacks, mailoutbox
):
    payment = start_payment()
    # Stored and answered 1|OK; the drain it queued is lost (not executed).
    with django_capture_on_commit_callbacks(execute=False):
        assert deliver(Client(), signed(paid_notification(payment))) == "1|OK"
    callback = GatewayCallback.objects.get()
    assert callback.outcome == CallbackOutcome.RECEIVED

    assert sweep(django_capture_on_commit_callbacks) == 0
    # Past the time a drain on its way has: no longer PIPELINE_STRANDED_AFTER_SECONDS, since a
    # steady stream of notifications behind it would each count on that lost drain.
    age_callback(callback, seconds=int(NOTIFICATION_DRAIN_COVERS.total_seconds()) + 1)
    assert sweep(django_capture_on_commit_callbacks) == 1
    assert sweep(django_capture_on_commit_callbacks) == 0

    callback.refresh_from_db()
    payment.refresh_from_db()
    assert callback.outcome == CallbackOutcome.ACCEPTED
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.order.status == OrderStatus.PAID
    assert len(mailoutbox) == 1


def test_an_unapplied_notification_older_than_a_week_is_left_for_staff(
    django_capture_on_commit_callbacks,
):
    payment = start_payment()
    with django_capture_on_commit_callbacks(execute=False):
        deliver(Client(), signed(paid_notification(payment)))
    age_callback(GatewayCallback.objects.get(), seconds=8 * 24 * 3600)

    assert sweep(django_capture_on_commit_callbacks) == 0
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


def test_an_ecpay_payment_whose_update_never_ran_is_completed(
    django_capture_on_commit_callbacks, mailoutbox
):
    payment = start_payment()
    apply_losing_what_it_queues(
        signed(paid_notification(payment)), django_capture_on_commit_callbacks
    )
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PROCESSING
    age(payment)

    assert sweep(django_capture_on_commit_callbacks) == 1

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.order.status == OrderStatus.PAID
    assert len(mailoutbox) == 1


def test_an_ecpay_failure_whose_notice_never_ran_is_told_to_the_customer_once(
    django_capture_on_commit_callbacks, mailoutbox
):
    payment = start_payment()
    failure = signed(paid_notification(payment, RtnCode="10100058"))
    apply_losing_what_it_queues(failure, django_capture_on_commit_callbacks)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert mailoutbox == []
    age(payment)

    assert sweep(django_capture_on_commit_callbacks) == 1
    assert sweep(django_capture_on_commit_callbacks) == 0

    assert len(mailoutbox) == 1
    assert payment.events.filter(type="notified_failed").count() == 1


def test_a_failure_older_than_a_week_is_not_told_any_more(
    django_capture_on_commit_callbacks, mailoutbox
):
    payment = start_payment()
    failure = signed(paid_notification(payment, RtnCode="10100058"))
    apply_losing_what_it_queues(failure, django_capture_on_commit_callbacks)
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.FAILED
    age(payment, seconds=8 * 24 * 3600)

    assert sweep(django_capture_on_commit_callbacks) == 0
    assert mailoutbox == []


@pytest.mark.parametrize(
    ("success", "status"), [(True, PaymentStatus.COMPLETED), (False, PaymentStatus.FAILED)]
)
def test_a_wallet_payment_whose_settlement_never_ran_ends_as_the_wallet_said(
    success, status, django_capture_on_commit_callbacks, mailoutbox
):
    order = OrderFactory.create()
    with django_capture_on_commit_callbacks(execute=False):
        response = post(Client(), callback_body(order, success=success))
    assert response.status_code == 200
    payment = Payment.objects.get(order=order)
    assert payment.status == PaymentStatus.PROCESSING
    age(payment)

    assert sweep(django_capture_on_commit_callbacks) == 1

    payment.refresh_from_db()
    assert payment.status == status
    assert len(mailoutbox) == 1
