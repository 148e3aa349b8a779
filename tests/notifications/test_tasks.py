from datetime import timedelta

import pytest

from notifications.models import NotificationStatus
from notifications.tasks import notifications_retry_failed
from tests.factories import email_notification


@pytest.mark.django_db
def test_the_retry_task_sends_a_failed_message_once(mailoutbox):
    notification = email_notification(
        status=NotificationStatus.FAILED, attempts=1, idle=timedelta(minutes=5)
    )

    assert notifications_retry_failed.delay().get() == 1
    assert notifications_retry_failed.delay().get() == 0

    assert len(mailoutbox) == 1
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.SENT
