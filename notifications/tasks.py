from celery import shared_task

from notifications.services import notification_retry_failed


@shared_task
def notifications_retry_failed() -> int:
    """Beat, every five minutes: send again what a channel failed to take. Safe to overlap."""
    return notification_retry_failed()
