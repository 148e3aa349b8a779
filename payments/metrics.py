"""The payments' metrics (core/metrics.py serves them; README, Operations, says what each means).

Counters move when what they count is committed (`counted_on_commit`): a transition rolled
back never counted. Gauges of the moment (payments needing review, outcomes unknown, the queues)
are read at scrape time by `PaymentsStateCollector`, on the web tier only; gauges of the last
periodic run (ledger, reconciliation, heartbeat) are set by the task that runs, in the worker.
"""

import functools
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import ParamSpec, TypeVar

from django.db import transaction
from django.utils import timezone
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from core.metrics import LATENCY_BUCKETS

payments_created = Counter(
    "payments_created_total", "Payments created, by gateway and method.", ["gateway", "method"]
)
payment_transitions = Counter(
    "payments_transitions_total",
    "Payments moved to a status (completed, failed, refunded, expired, ...), by gateway and "
    "method: the failure rate is failed / (completed + failed).",
    ["gateway", "method", "status"],
)
payment_dead_letters = Counter(
    "payments_dead_letters_total",
    "Payments the pipeline gave up on and flagged for review, by gateway.",
    ["gateway"],
)
payment_completion = Histogram(
    "payments_completion_seconds",
    "Time from a payment's creation to its completion, by gateway (ATM and store payments "
    "wait for their customer: hours).",
    ["gateway"],
    buckets=(1, 2, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 24 * 3600, 3 * 24 * 3600),
)
gateway_operations = Counter(
    "payments_operations_total",
    "Charges and refunds settled, by gateway, kind and status (succeeded, failed, unknown).",
    ["gateway", "kind", "status"],
)
pipeline_step_duration = Histogram(
    "payments_pipeline_step_duration_seconds",
    "Time one pipeline step took (validate, process, update, notify), however it ended.",
    ["step"],
    buckets=LATENCY_BUCKETS,
)
pipeline_retries = Counter(
    "payments_pipeline_retries_total",
    "Pipeline steps queued again after a transient gateway error, by step.",
    ["step"],
)
notification_drains = Counter(
    "payments_ecpay_notification_drains_total", "Runs of the ECPay notifications' drain."
)
P = ParamSpec("P")
R = TypeVar("R")

# Set by the periodic tasks, in the worker that ran them: the most recent value wins.
periodic_heartbeat = Gauge(
    "payments_periodic_heartbeat_timestamp_seconds",
    "When a periodic task (gateways_probe, every 30 s) last ran: beat and the maintenance "
    "worker are both alive while it is recent.",
    multiprocess_mode="max",
)
ledger_mismatched = Gauge(
    "payments_ledger_mismatches",
    "Balances that differed from their ledger at the last ledger check (there should be none).",
    multiprocess_mode="mostrecent",
)
ledger_checked = Gauge(
    "payments_ledger_checked_timestamp_seconds",
    "When the ledger was last checked.",
    multiprocess_mode="max",
)
reconciliation_discrepancies = Gauge(
    "payments_reconciliation_discrepancies",
    "Differences the last ECPay reconciliation found (back office: Reconciliation discrepancies).",
    multiprocess_mode="mostrecent",
)
reconciliation_ran = Gauge(
    "payments_reconciliation_timestamp_seconds",
    "When the ECPay reconciliation last ran to its end.",
    multiprocess_mode="max",
)


def counted_on_commit(count: Callable[[], None]) -> None:
    """Count once the transaction commits (at once outside one): a rollback counts nothing."""
    transaction.on_commit(count)


def seconds_since(moment: datetime) -> float:
    return max((timezone.now() - moment).total_seconds(), 0.0)


def timed_step(step: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Observe how long each call of the decorated pipeline step takes, however it ends."""

    def decorate(run: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(run)
        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            try:
                return run(*args, **kwargs)
            finally:
                pipeline_step_duration.labels(step).observe(time.perf_counter() - started)

        return timed

    return decorate


class PaymentsStateCollector(Collector):
    """Gauges read at scrape time: a few indexed counts and the broker's queues."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from payments.queue import queues_waiting
        from payments.selectors import operations_unknown, payments_needing_review_count

        yield GaugeMetricFamily(
            "payments_needing_review",
            "Payments flagged for a person (dead letters, money to return): back office, "
            "Payments, needs review.",
            value=payments_needing_review_count(),
        )
        unknown = operations_unknown()
        yield GaugeMetricFamily(
            "payments_operations_unknown",
            "Charges and refunds whose outcome is unknown (the janitor asks the gateway).",
            value=unknown.count,
        )
        yield GaugeMetricFamily(
            "payments_operation_unknown_oldest_age_seconds",
            "How long the oldest unknown outcome has been unknown (0: none).",
            value=seconds_since(unknown.oldest) if unknown.oldest else 0.0,
        )
        waiting = queues_waiting()
        broker = GaugeMetricFamily(
            "payments_broker_up", "Whether the broker answered this scrape's queue question."
        )
        broker.add_metric([], 1.0 if waiting is not None else 0.0)
        yield broker
        depth = GaugeMetricFamily(
            "payments_queue_depth",
            "Messages waiting on a queue for a worker (held ones not counted).",
            labels=["queue"],
        )
        for queue, count in (waiting or {}).items():
            depth.add_metric([queue], count)
        yield depth
