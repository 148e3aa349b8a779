"""Checks that the service's dependencies answer, for /readyz and the operators.

Each check has the same shape: it returns None when the dependency answered, or a short reason
when it did not. Reasons name the kind of failure only: exception texts can carry hostnames or
credentials.
"""

from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection

BROKER_TIMEOUT_SECONDS = 2


def database_problem() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any failure means "not healthy"; the type says which
        return type(error).__name__
    return None


def broker_problem() -> str | None:
    broker = Connection(
        settings.CELERY_BROKER_URL,
        transport_options=getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}),
        connect_timeout=BROKER_TIMEOUT_SECONDS,
    )
    try:
        # One attempt, no retry loop: a health check must answer within the probe's timeout.
        broker.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as error:
        return type(error).__name__
    finally:
        broker.release()
    return None


def migrations_problem() -> str | None:
    """A migration the code has and the database has not: the new code must not serve yet
    (a rollout runs migrations first, as a one-off task)."""
    try:
        executor = MigrationExecutor(connection)
        unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as error:
        return type(error).__name__
    return f"{len(unapplied)} unapplied" if unapplied else None


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Nothing else is checked, so a database outage never gets
    healthy containers restarted (readiness, /readyz, takes them out of the load balancer)."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database and the broker answer and every migration is applied; 200 when
    all hold, 503 (naming what failed, never how it is reached) otherwise."""
    problems = {
        "database": database_problem(),
        "broker": broker_problem(),
        "migrations": migrations_problem(),
    }
    checks = {
        name: {"ok": problem is None, **({"error": problem} if problem else {})}
        for name, problem in problems.items()
    }
    ready = all(problem is None for problem in problems.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


class ProbeMiddleware:
    """Answers /healthz and /readyz before anything checks the Host header.

    A load balancer's health check names the container by its private address, which is in no
    ALLOWED_HOSTS list: Django would refuse it (400) before the probe could run. The probes say
    nothing a caller could abuse, so they are the one thing answered to any host.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = {"/healthz": healthz, "/readyz": readyz}.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)
