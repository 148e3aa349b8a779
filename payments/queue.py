"""Queue the worker's tasks from the application, once the transaction that decided them commits.

The tasks (`payments.tasks`) are one more interface to the application, as the API is: they
import it, so the application names a task rather than importing it, and the arrows point one
way (docs/architecture.md). Each name is defined here once, the task takes it as its name
(`@shared_task(name=...)`), and `tests/payments/test_queue.py` checks every one is registered.
"""

import logging
from typing import Any, Final

from celery import current_app
from django.conf import settings
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerUnavailable

logger = logging.getLogger(__name__)

PAYMENT_VALIDATE: Final = "payments.tasks.payment_validate"
PAYMENT_PROCESS: Final = "payments.tasks.payment_process"
PAYMENT_UPDATE: Final = "payments.tasks.payment_update"
PAYMENT_WALLET_SETTLE: Final = "payments.tasks.payment_wallet_settle"
PAYMENT_NOTIFY: Final = "payments.tasks.payment_notify"
PAYMENT_RESUME: Final = "payments.tasks.payment_resume"
REFUND_PROCESS: Final = "payments.tasks.refund_process"
ECPAY_NOTIFICATIONS_DRAIN: Final = "payments.tasks.ecpay_notifications_drain"


def queue_after_commit(task_name: str, *args: Any) -> None:
    """Queue the task named `task_name` with `args` once the current transaction has committed.

    The broker being down must not turn a recorded payment into an error: what the caller did is
    committed, so the failure to queue is logged and the request answered as usual. Nothing is
    lost: `payments_resume_stranded` picks up every payment left waiting for its pipeline or
    for its failure notice, and the janitor every refund left unsent.
    """

    def publish() -> None:
        try:
            current_app.tasks[task_name].delay(*args)
        except BrokerUnavailable as error:
            logger.warning(
                "broker unavailable, %s%s not queued (the sweeps take it on): %s",
                task_name,
                args,
                error,
            )

    transaction.on_commit(publish)


def pipeline_start(payment_id: int) -> None:
    """Queue a new payment's pipeline once the transaction that created it has committed."""
    queue_after_commit(PAYMENT_VALIDATE, payment_id)


def refund_start(operation_id: int) -> None:
    """Queue a recorded refund once the transaction that recorded it has committed."""
    queue_after_commit(REFUND_PROCESS, operation_id)


def queues_waiting(names: list[str] | None = None) -> dict[str, int] | None:
    """How many messages wait on each queue (every queue the workers consume by default):
    Redis' list length, SQS's approximate number visible; messages a worker holds are not
    counted. None when the broker cannot be reached or a queue does not exist. For
    `manage.py queue_depth` and the metrics' scrape, which must answer quickly: one attempt."""
    names = names if names is not None else [queue.name for queue in settings.CELERY_TASK_QUEUES]
    waiting: dict[str, int] = {}
    try:
        with current_app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=2)
            # Every kombu transport's channel declares queues; the stub's type does not say.
            channel: Any = connection.default_channel
            for name in names:
                # Not passive: Redis keeps no empty queue, so a passive declare would call an
                # empty queue missing. Nothing is created either way: Redis makes a list when a
                # message arrives, and SQS' queues are predefined (an unknown one is an error).
                _, count, _ = channel.queue_declare(queue=name)
                waiting[name] = int(count)
    except Exception as error:  # the broker down, or a transport's own "no such queue"
        # The transports' messages name the host and the queue, never a password (and the log
        # formatter redacts one anyway): what the operator needs to know why.
        logger.warning("queue depth unknown: %s: %s", type(error).__name__, error)
        return None
    return waiting
