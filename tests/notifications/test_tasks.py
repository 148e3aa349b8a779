from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Notification, NotificationChannel, NotificationStatus
from notifications.tasks import notifications_retry_failed
from payments.models import PaymentStatus
from tests.factories import PaymentFactory


@pytest.mark.django_db
def test_the_retry_task_sends_a_failed_message_once(mailoutbox):
    payment = PaymentFactory.create(status=PaymentStatus.COMPLETED)
    notification = Notification.objects.create(
        payment=payment,
        event="completed",
        channel=NotificationChannel.EMAIL,
        recipient=payment.user.email,
        status=NotificationStatus.FAILED,
        attempts=1,
    )
    Notification.objects.filter(pk=notification.pk).update(
        updated_at=timezone.now() - timedelta(minutes=5)
    )

    assert notifications_retry_failed.delay().get() == 1
    assert notifications_retry_failed.delay().get() == 0

    assert len(mailoutbox) == 1
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.SENT
