"""Inbound gateway callbacks: store first, then verify and act, then answer the gateway."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from gateways.base import BadSignatureError
from gateways.models import CallbackOutcome, Gateway, GatewayCallback
from gateways.services import callback_record, callback_settle
from gateways.wallet import MalformedCallback, callback_secret, parse_callback, verify_signature
from payments.ecpay.notifications import ecpay_notification_receive
from payments.wallet.callbacks import wallet_callback_accept

logger = logging.getLogger(__name__)

# Headers worth keeping with a callback: enough to trace it, nothing that authenticates us.
_KEPT_HEADERS = ("Content-Type", "User-Agent", "X-Forwarded-For", "X-Request-Id")
# Wallets sign with headers: kept too, so a stored callback can be verified again later.
_WALLET_KEPT_HEADERS = (*_KEPT_HEADERS, "X-Signature", "X-Timestamp")


@csrf_exempt  # ECPay's servers post here; the CheckMacValue authenticates them instead
@require_POST
def ecpay_notification(request: HttpRequest) -> HttpResponse:
    """ECPay's ReturnURL and PaymentInfoURL. Answers exactly `1|OK`, or `0|<reason>`; a worker
    applies what is answered 1|OK (`payments.ecpay.notifications.ecpay_notification_receive`).

    Without the database (the connection dropped, a lock wait timed out) it answers 503
    `0|database unavailable`, which ECPay delivers again later: a 500 would say we broke. The
    redelivery is applied then; if this delivery was stored before the failure, the stranded
    sweep applies it too, and whichever comes second is a duplicate.
    """
    try:
        callback = _record(
            request,
            Gateway.ECPAY,
            kept_headers=_KEPT_HEADERS,
            reference=request.POST.get("MerchantTradeNo", ""),
        )
        answer = ecpay_notification_receive(callback=callback)
    except (OperationalError, InterfaceError):
        # Django drops the broken connection itself once the request is finished (an unusable
        # connection is closed, CONN_HEALTH_CHECKS), so the redelivery gets a new one.
        logger.warning("ECPay notification not applied: the database failed", exc_info=True)
        return _ecpay_answer("0|database unavailable", status=503)
    return _ecpay_answer(answer)


def _ecpay_answer(answer: str, *, status: int = 200) -> HttpResponse:
    return HttpResponse(answer, status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt  # the wallet's servers post here; the X-Signature HMAC authenticates them instead
@require_POST
def wallet_callback(request: HttpRequest) -> JsonResponse:
    return _wallet_callback(request, Gateway.WALLET)


@csrf_exempt  # the bank app's servers post here; the X-Signature HMAC authenticates them instead
@require_POST
def bank_app_callback(request: HttpRequest) -> JsonResponse:
    return _wallet_callback(request, Gateway.BANK_APP)


def _wallet_callback(request: HttpRequest, gateway: str) -> JsonResponse:
    """Store, verify, parse, act once. 200 for anything safely handled, 4xx for a refusal."""
    callback = _record(request, gateway, kept_headers=_WALLET_KEPT_HEADERS)
    try:
        verify_signature(
            secret=callback_secret(gateway),
            body=request.body,
            signature=request.headers.get("X-Signature"),
            timestamp=request.headers.get("X-Timestamp"),
        )
    except BadSignatureError as error:
        callback_settle(
            callback_id=callback.pk,
            outcome=CallbackOutcome.REJECTED,
            reason=str(error),
            signature_valid=False,
        )
        return JsonResponse({"code": "bad_signature", "message": str(error)}, status=401)
    try:
        parsed = parse_callback(request.body)
    except MalformedCallback as error:
        callback_settle(
            callback_id=callback.pk,
            outcome=CallbackOutcome.REJECTED,
            reason=str(error),
            signature_valid=True,
        )
        return JsonResponse(
            {
                "code": "invalid",
                "message": "The callback is malformed.",
                "fields": {error.field: [error.message]},
            },
            status=400,
        )
    verdict = wallet_callback_accept(callback_id=callback.pk, gateway=gateway, callback=parsed)
    if verdict.outcome == CallbackOutcome.REJECTED:
        return JsonResponse(
            {"code": verdict.code, "message": verdict.reason}, status=verdict.status
        )
    return JsonResponse({"status": verdict.answer})


def _record(
    request: HttpRequest, gateway: str, *, kept_headers: tuple[str, ...], reference: str = ""
) -> GatewayCallback:
    """Store the callback as it arrived, before anything is done with it."""
    return callback_record(
        gateway=gateway,
        external_reference=reference,
        body=request.body.decode("utf-8", errors="replace"),
        content_type=request.content_type or "",
        headers={name: request.headers[name] for name in kept_headers if name in request.headers},
        remote_addr=request.META.get("REMOTE_ADDR"),
    )
