"""Inbound gateway callbacks: store first, then verify and act, then answer the gateway."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from gateways.models import Gateway
from gateways.services import callback_record
from payments.ecpay import ecpay_notification_accept

# Headers worth keeping with a callback: enough to trace it, nothing that authenticates us.
_KEPT_HEADERS = ("Content-Type", "User-Agent", "X-Forwarded-For", "X-Request-Id")


@csrf_exempt  # ECPay's servers post here; the CheckMacValue authenticates them instead
@require_POST
def ecpay_notification(request: HttpRequest) -> HttpResponse:
    """ECPay's ReturnURL and PaymentInfoURL. Answers exactly `1|OK`, or `0|<reason>`."""
    callback = callback_record(
        gateway=Gateway.ECPAY,
        body=request.body.decode("utf-8", errors="replace"),
        content_type=request.content_type or "",
        headers={name: request.headers[name] for name in _KEPT_HEADERS if name in request.headers},
        remote_addr=request.META.get("REMOTE_ADDR"),
    )
    answer = ecpay_notification_accept(callback_id=callback.pk)
    return HttpResponse(answer, content_type="text/plain; charset=utf-8")
