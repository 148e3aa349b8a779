from django.http import HttpRequest, JsonResponse
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
