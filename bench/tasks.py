"""The pipeline's ceiling: four no-op tasks chained per payment, on the product's broker and
worker settings. The last one counts the chain as done in Redis, where the benchmark reads it."""

from functools import cache

import redis
from celery import chain, shared_task
from django.conf import settings

DONE_KEY = "bench:chains-done"


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
