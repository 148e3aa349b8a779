"""What Django answers itself, outside any view: errors under /api/ in the API's shape, in every
mode, a page's form in a charset other than UTF-8 refused, and the customers' error pages
(templates/400.html, 403.html, 404.html, 500.html)."""

import codecs
from collections.abc import Callable

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static

_API_ERRORS = {
    400: {"code": "bad_request", "message": "The request could not be read.", "fields": {}},
    403: {
        "code": "permission_denied",
        "message": "You do not have permission to perform this action.",
        "fields": {},
    },
    404: {"code": "not_found", "message": "No such resource.", "fields": {}},
    500: {"code": "server_error", "message": "Something went wrong on our side.", "fields": {}},
}


class ApiErrorShape:
    """Under /api/, what Django answers itself rather than a DRF view: a request it refused
    (400: a Host not allowed, say), a permission denied (403), a path nothing serves (404) and
    a crash (500), in the API's error shape, `{"code", "message", "fields"}`, never
    an HTML page, whatever DJANGO_DEBUG says: with it on, Django answers with its debug pages
    and never calls a handler. Nothing of the error goes into the answer; Django has logged it
    before this sees the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        error = _API_ERRORS.get(response.status_code)
        is_json = response.get("Content-Type", "").startswith("application/json")
        if error is not None and not is_json and request.path.startswith("/api/"):
            return JsonResponse(error, status=response.status_code)
        return response


class RequestCharsetCheck:
    """Refuses, with the 400 page, a request to the pages (the customers', the back office's)
    whose Content-Type names a charset other than UTF-8. The pages are UTF-8, so are the forms
    browsers post from them, and Django refuses an urlencoded form in any other charset itself;
    but it reads a multipart form in any charset Python can look up, and some decode no text
    (hex, base64, zlib, rot13) or fail whatever the bytes (undefined, idna, punycode): a 500 on
    the sign-in pages and checkout's. Before any view or middleware reads the form (the CSRF
    check does). A name Python does not know Django ignores itself (the form is read as UTF-8).
    The API's JSON parser judges its charsets itself (core/api.py), and the gateways' callbacks
    read the bytes they were sent."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        is_page = not request.path.startswith(("/api/", "/callbacks/"))
        if is_page and request.encoding and codecs.lookup(request.encoding).name != "utf-8":
            raise BadRequest(f"The pages take UTF-8, not {request.encoding!r}.")
        return self.get_response(request)


def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers ask for whatever a page links: to the one icon (static), its
    address looked up per request (the static manifest exists only after collectstatic)."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))
