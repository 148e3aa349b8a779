from celery import shared_task

from core.idempotency import idempotency_keys_purge_expired


@shared_task
def ping() -> str:
    """Answer "pong": lets an operator or a test see that a worker takes tasks off the broker."""
    return "pong"


@shared_task
def idempotency_keys_purge() -> int:
    """Beat, hourly: delete Idempotency-Keys past their TTL. Safe to overlap."""
    return idempotency_keys_purge_expired()
