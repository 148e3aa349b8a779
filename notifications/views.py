"""The development mailbox's pages (`/dev/mail/`): what the service sent, as a customer sees it.

Served only in development: with DJANGO_DEBUG off, or another mail backend, every page is a 404.
Each message is a file `notifications.mailbox` wrote; nothing here reaches the database.
"""

import functools
from collections.abc import Callable

from csp.constants import NONE, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_safe

from core.published import DEVELOPMENT_EMAIL_BACKEND
from notifications.mailbox import PAGE_SIZE, mailbox_message, mailbox_messages


def development_only(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @functools.wraps(view)
    def guarded(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        if not (settings.DEBUG and settings.EMAIL_BACKEND == DEVELOPMENT_EMAIL_BACKEND):
            raise Http404("The mailbox exists in development only.")
        return view(request, *args, **kwargs)

    return guarded


@development_only
@require_safe
def mailbox_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "notifications/mailbox/index.html",
        {"messages_sent": mailbox_messages(), "page_size": PAGE_SIZE},
    )


@development_only
@require_safe
def mailbox_read(request: HttpRequest, name: str) -> HttpResponse:
    message = mailbox_message(name)
    if message is None:
        raise Http404("No such message in the mailbox.")
    return render(request, "notifications/mailbox/message.html", {"message": message})


# An email's HTML carries its own inline styles, as mail programs need; it is shown sandboxed
# (no script, no form, an origin of its own) and may load nothing from anywhere.
@development_only
@require_safe
@csp_replace(  # type: ignore[arg-type]  # django-csp types a view as taking the request only
    {
        "default-src": [NONE],
        "script-src": [NONE],
        "style-src": [UNSAFE_INLINE],
        "img-src": ["data:"],
        "font-src": [NONE],
        "connect-src": [NONE],
        "form-action": [NONE],
        "sandbox": True,
    }
)
def mailbox_read_html(request: HttpRequest, name: str) -> HttpResponse:
    message = mailbox_message(name)
    if message is None or not message.html:
        raise Http404("No such message, or it has no HTML part.")
    return HttpResponse(message.html, content_type="text/html; charset=utf-8")
