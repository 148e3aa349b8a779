"""The Celery application. Settings come from Django's, under the CELERY_ namespace."""

import os
from typing import Any

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun, worker_init, worker_process_shutdown
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("payments")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def database_connections_recycled(task: Task[..., Any], **kwargs: Any) -> None:
    """Give each task the database connection lifecycle Django gives each request.

    Celery's Django fixup closes every connection before and after every task (again, since
    celery/celery#9824): a new MariaDB connection per task. With TLS to the database, as
    production runs, that is a handshake per task: 2.5 ms of CPU, 4.5 ms even on loopback
    (bench/RESULTS.md). CELERY_DB_REUSE_MAX (config/settings.py) stops the fixup doing so;
    this does what Django's request signals do instead: a connection past CONN_MAX_AGE, or one
    an error may have broken (a KILLed connection, a server restart), is closed, and the next
    task's first query checks the connection it is given (CONN_HEALTH_CHECKS).
    """
    # An eager task runs inside the caller's transaction (the unit tests'): leave it alone.
    if getattr(task.request, "is_eager", False):
        return
    close_old_connections()


@worker_init.connect
def metrics_served(**kwargs: Any) -> None:
    """In the worker's main process, before its pool starts: its pool's counters served on
    METRICS_PORT when it is set (core/metrics.py)."""
    from django.conf import settings

    from core.metrics import serve_worker_metrics

    if settings.METRICS_PORT:
        serve_worker_metrics(settings.METRICS_PORT)


@worker_process_shutdown.connect
def metrics_process_retired(pid: int, **kwargs: Any) -> None:
    from core.metrics import process_dead

    process_dead(pid)
