from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.health import broker_problem, database_problem, migrations_problem


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


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A path nothing serves: the API's error shape under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "not_found", "message": "No such resource.", "fields": {}}, status=404
        )
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """A bug: the API's error shape under /api/ (nothing of the error in it), Django's page
    elsewhere. Django has logged the error before it calls this."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "server_error", "message": "Something went wrong on our side.", "fields": {}},
            status=500,
        )
    return defaults.server_error(request)
