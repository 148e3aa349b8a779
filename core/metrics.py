"""Prometheus metrics: how they are collected in every process, and how they are served.

Each process counts into prometheus_client's metrics (the apps define theirs beside the code
they measure: `payments.metrics`, `gateways.metrics`). gunicorn's processes and a Celery
worker's pool each count on their own; with PROMETHEUS_MULTIPROC_DIR set (the image sets it),
each writes its numbers to a file in that folder and whoever serves them adds the files up.

Served at two places, to the internal network only:

- **`/metrics` on the web tier**, with `Authorization: Bearer <METRICS_TOKEN>`: off (404) while
  METRICS_TOKEN is unset. A token rather than a port of its own because the load balancer
  forwards only the web port. A scraper inside the VPC asks by the task's address, over plain
  HTTP, so it is answered ahead of Django's host check and the HTTPS redirect, as the health
  checks are. The web tier also serves
  the gauges read from the database at scrape time (`register_state_collector`).
- **A Celery worker's own port** (METRICS_PORT, off while 0), started in the worker's main
  process: its pool's counters, no token (the port is reachable only inside the VPC: the tasks'
  security group admits no one to it from outside).

Labels are bounded: a gateway, a step, a status, a route pattern, never a payment, a user or an
address. `tests/payments/test_metrics.py` checks every series of a scrape.
"""

import hmac
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.registry import Collector

METRICS_PATH = "/metrics"
# The one variable prometheus_client itself reads (before any metric exists, so not a setting).
MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# Seconds: from a cache hit to a card provider that takes its whole timeout.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Every metric writes its file there from the moment it is made: the folder must exist before
# the first (this module's, which every module with metrics imports). Emptying it of an
# earlier run's files is the start's job, before any process of the server exists
# (deploy/entrypoint.sh, gunicorn's on_starting): none may be deleted from under a process.
if _folder := os.environ.get(MULTIPROCESS_DIR_VARIABLE):
    Path(_folder).mkdir(parents=True, exist_ok=True)

http_requests = Counter(
    "http_requests_total",
    "Requests answered, by method, route pattern and status.",
    ["method", "route", "status"],
)
http_request_duration = Histogram(
    "http_request_duration_seconds",
    "Time to answer a request, by method and route pattern.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)

db_query_duration = Histogram(
    "db_query_duration_seconds",
    "Time the database took to answer one statement, by its first word (select, insert, "
    "update, delete; other: savepoints, locks, transaction control).",
    ["operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
)
_OPERATIONS = frozenset({"select", "insert", "update", "delete"})

_state_collectors: list[Callable[[], Collector]] = []


def register_state_collector(make: Callable[[], Collector]) -> None:
    """Add gauges read at scrape time (from the database, the broker) to /metrics: the web tier
    serves them once, where workers would serve them once each."""
    if make not in _state_collectors:
        _state_collectors.append(make)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_DIR_VARIABLE) or None


def process_dead(pid: int) -> None:
    """A pool process ended: its live gauges stop counting (its counters stay in the sum)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def _process_registry() -> CollectorRegistry:
    """Every process's counters: the files of the folder, or this process's own."""
    if not multiprocess_dir():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def exposition() -> bytes:
    """The text /metrics answers: the processes' counters, then the state read now."""
    state = CollectorRegistry(auto_describe=False)
    for make in _state_collectors:
        state.register(make())
    return generate_latest(_process_registry()) + generate_latest(state)


def _authorized(request: HttpRequest) -> bool:
    expected = f"Bearer {settings.METRICS_TOKEN}".encode()
    given = request.headers.get("Authorization", "").encode()
    return hmac.compare_digest(given, expected)


class MetricsMiddleware:
    """Answers /metrics (to a scraper with the token) and counts every other request.

    First in MIDDLEWARE after the request id: the count includes what later middleware answers
    (a redirect, a refusal), and /metrics is answered before the host check, as the probes are.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == METRICS_PATH:
            return self._serve(request)
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in _METHODS else "other"
        route = _route(request)
        http_requests.labels(method, route, str(response.status_code)).inc()
        http_request_duration.labels(method, route).observe(time.perf_counter() - started)
        return response

    @staticmethod
    def _serve(request: HttpRequest) -> HttpResponse:
        if not settings.METRICS_TOKEN:
            return HttpResponse(status=404)
        if not _authorized(request):
            response = HttpResponse(status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


def _route(request: HttpRequest) -> str:
    """The URL pattern that answered (`api/v1/payments/<str:public_id>/`), never the path: a
    path holds ids. Requests no pattern matched share one label."""
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return "unmatched"
    return str(match.route)[:100]


def database_timed(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
) -> Any:
    """A database connection's execute wrapper (core/apps.py installs it on each connection)."""
    word = sql.lstrip()[:6].lower()
    operation = word if word in _OPERATIONS else "other"
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        db_query_duration.labels(operation).observe(time.perf_counter() - started)


def serve_worker_metrics(port: int) -> None:
    """Serve this worker's pool's counters on `port` (a thread of the main process)."""
    start_http_server(port, registry=_process_registry())
