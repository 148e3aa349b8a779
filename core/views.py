from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.health import broker_problem, database_problem


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Whether the database and the broker answer: 200 when both do, 503 otherwise."""
    problems = {"database": database_problem(), "broker": broker_problem()}
    checks = {
        name: {"ok": problem is None, **({"error": problem} if problem else {})}
        for name, problem in problems.items()
    }
    healthy = all(problem is None for problem in problems.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
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
