from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults


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
