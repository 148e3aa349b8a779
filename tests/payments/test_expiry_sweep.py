"""The expiry sweep (`payments_expire_pending`) picks only payments it will expire, so payments
waiting on a late result never use up a capped run while abandoned ones keep their orders."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from gateways.models import Gateway
from payments.models import Payment, PaymentMethod, PaymentStatus
from payments.selectors import payments_expirable
from payments.services import payment_expire
from payments.tasks import payments_expire_pending
from tests.factories import PaymentFactory
from tests.payments.test_ecpay_notifications import (
    deliver,
    paid_notification,
    signed,
    start_payment,
)

pytestmark = pytest.mark.django_db

OLD = timedelta(days=4)


@pytest.fixture(autouse=True)
def expire_after_an_hour(settings):
    settings.EXPIRE_PENDING_AFTER_MINUTES = 60
    settings.ECPAY_BARCODE_RESULT_DELAY_HOURS = 72


def made_ago(payment: Payment, age: timedelta = OLD) -> Payment:
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - age)
    return payment


def barcode(*, deadline_ago: timedelta) -> Payment:
    """A pending ECPay barcode payment whose code's deadline passed `deadline_ago`."""
    return made_ago(
        PaymentFactory.create(
            status=PaymentStatus.PENDING,
            gateway=Gateway.ECPAY,
            method=PaymentMethod.BARCODE,
            payment_code="0812345678901234",
            payment_code_expires_at=timezone.now() - deadline_ago,
        )
    )


def abandoned() -> Payment:
    return made_ago(PaymentFactory.create(status=PaymentStatus.PENDING))


def status_of(payment: Payment) -> str:
    payment.refresh_from_db()
    return payment.status


def test_barcodes_waiting_for_their_late_result_do_not_starve_a_capped_sweep():
    waiting = [barcode(deadline_ago=timedelta(hours=1)) for _ in range(3)]
    left = abandoned()  # made last: the highest id

    assert payments_expire_pending(limit=1) == 1

    assert status_of(left) == PaymentStatus.EXPIRED
    assert [status_of(payment) for payment in waiting] == [PaymentStatus.PENDING] * 3


def test_a_payment_with_a_notification_waiting_does_not_starve_a_capped_sweep(
    client: Client, django_capture_on_commit_callbacks
):
    paid = start_payment()
    with django_capture_on_commit_callbacks():  # stored, its drain not run yet
        assert deliver(client, signed(paid_notification(paid))) == "1|OK"
    made_ago(paid)
    left = abandoned()

    assert payments_expire_pending(limit=1) == 1

    assert (status_of(paid), status_of(left)) == (PaymentStatus.PENDING, PaymentStatus.EXPIRED)


@pytest.mark.parametrize(
    ("method", "deadline_ago", "expirable"),
    [
        (PaymentMethod.ATM, -timedelta(hours=1), False),  # its code is still valid
        (PaymentMethod.ATM, timedelta(minutes=1), True),
        (PaymentMethod.CVS, timedelta(minutes=1), True),
        (PaymentMethod.BARCODE, timedelta(hours=71), False),  # ECPay may still report it
        (PaymentMethod.BARCODE, timedelta(hours=73), True),
    ],
)
def test_the_sweep_selects_exactly_what_payment_expire_expires(method, deadline_ago, expirable):
    payment = made_ago(
        PaymentFactory.create(
            status=PaymentStatus.PENDING,
            gateway=Gateway.ECPAY,
            method=method,
            payment_code="9103522175887271",
            payment_code_expires_at=timezone.now() - deadline_ago,
        )
    )
    selected = payments_expirable(older_than=timedelta(hours=1)).filter(pk=payment.pk).exists()

    assert selected is expirable
    assert (payment_expire(payment_id=payment.pk).status == PaymentStatus.EXPIRED) is expirable


def test_the_oldest_are_expired_first():
    first, second = abandoned(), abandoned()

    payments_expire_pending(limit=1)

    assert (status_of(first), status_of(second)) == (PaymentStatus.EXPIRED, PaymentStatus.PENDING)
