from datetime import timedelta

from celery import shared_task
from django.conf import settings

from gateways.services import callbacks_purge_refused as purge


@shared_task
def callbacks_purge_refused() -> int:
    """Beat, hourly: delete refused callbacks about no payment past their retention
    (CALLBACK_REFUSED_RETENTION_DAYS). Safe to overlap."""
    return purge(older_than=timedelta(days=settings.CALLBACK_REFUSED_RETENTION_DAYS))
