"""The pipeline's ceiling: four no-op tasks chained per payment, on the product's broker and
worker settings. The last one counts the chain as done in Redis, where the benchmark reads it.
And a count, in Redis too, of the ECPay notification drains the benchmark's worker runs."""

from functools import cache
from typing import Any

import redis
from celery import chain, shared_task
from celery.signals import task_prerun
from django.conf import settings

from payments.tasks import ecpay_notifications_drain

DONE_KEY = "bench:chains-done"
DRAINS_KEY = "bench:drains-run"


@shared_task
def bench_noop(payment_id: int) -> None:
    """A pipeline step that does nothing."""


@shared_task
def bench_noop_done(payment_id: int) -> None:
    """The last step: count the chain as done."""
    _redis().incr(DONE_KEY)


@cache
def _redis() -> redis.Redis:
    # One connection per worker process, as the product's tasks share Django's.
    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


def bench_chain_start(payment_id: int) -> None:
    chain(
        bench_noop.si(payment_id),
        bench_noop.si(payment_id),
        bench_noop.si(payment_id),
        bench_noop_done.si(payment_id),
    ).delay()


@task_prerun.connect
def drain_count(sender: Any = None, **kwargs: Any) -> None:
    """Count each ECPay notification drain the worker runs (this module is loaded in the
    benchmark's worker only): a drain is a publish, which the requests try to save."""
    if getattr(sender, "name", None) == ecpay_notifications_drain.name:
        _redis().incr(DRAINS_KEY)
