"""What Django answers itself, outside any view: errors under /api/ in the API's shape, in every
mode, and the customers' error pages (templates/400.html, 403.html, 404.html, 500.html)."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static

_API_ERRORS = {
    404: {"code": "not_found", "message": "No such resource.", "fields": {}},
    500: {"code": "server_error", "message": "Something went wrong on our side.", "fields": {}},
}


class ApiErrorShape:
    """Under /api/, a path nothing serves (404) and a crash (500) answer in the API's error
    shape, `{"code", "message", "fields"}`, never an HTML page, whatever DJANGO_DEBUG says: with
    it on, Django answers both with its debug pages and never calls a handler. Nothing of the
    error goes into the answer; Django has logged it before this sees the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        error = _API_ERRORS.get(response.status_code)
        is_json = response.get("Content-Type", "").startswith("application/json")
        if error is not None and not is_json and request.path.startswith("/api/"):
            return JsonResponse(error, status=response.status_code)
        return response


def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers ask for whatever a page links: to the one icon (static), its
    address looked up per request (the static manifest exists only after collectstatic)."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))
