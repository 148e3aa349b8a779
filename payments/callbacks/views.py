"""Inbound gateway callbacks, as DRF views: store first, then verify and act, then answer the
gateway in its own protocol.

They take no credentials and no CSRF token: the gateway's signature (ECPay's CheckMacValue, the
wallets' X-Signature) authenticates what they receive, and is checked on the body exactly as it
arrived, so the views read the raw body, never a parsed one, before it is stored. They answer
whatever the caller's Accept header says (a gateway's protocol fixes the answer), and DRF's
throttling applies to them as to the API, off unless CALLBACK_THROTTLE_RATE is set.
"""

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from rest_framework.exceptions import APIException, ParseError, Throttled, UnsupportedMediaType
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle
from rest_framework.views import APIView

from gateways.metrics import callbacks_refused_unstored
from gateways.models import CallbackOutcome, Gateway, GatewayCallback
from gateways.services import callback_record
from payments.ecpay.notifications import ecpay_notification_check, ecpay_notification_receive
from payments.wallet.callbacks import wallet_callback_receive, wallet_callback_signed

logger = logging.getLogger(__name__)

# Headers worth keeping with a callback: enough to trace it, nothing that authenticates us.
_KEPT_HEADERS = ("Content-Type", "User-Agent", "X-Forwarded-For", "X-Request-Id")
# Wallets sign with headers: kept too, so a stored callback can be verified again later.
_WALLET_KEPT_HEADERS = (*_KEPT_HEADERS, "X-Signature", "X-Timestamp")


class EcpayAnswerRenderer(BaseRenderer):
    """ECPay's answer: plain text, exactly `1|OK` or `0|<reason>`. An error DRF raised before the
    view ran (a method not allowed, a throttled caller) has the API's error shape; ECPay gets
    its message as `0|<message>`, which it treats as "deliver again later"."""

    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if isinstance(data, dict):
            data = f"0|{data.get('message', 'error')}"
        return str(data).encode(self.charset)


class WalletAnswerRenderer(JSONRenderer):
    """The wallets' answer, JSON spaced as it always was (`{"status": "accepted"}`)."""

    compact = False


class GatewaysAnswer(DefaultContentNegotiation):
    """The view's own renderer, whatever the caller accepts: a gateway's protocol fixes the
    answer, so an Accept header never turns it into a 406."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class CallbackTooLarge(APIException):
    status_code = 413
    default_code = "request_too_large"
    default_detail = "The request is larger than any callback of this gateway."


class UnsignedCallbackThrottle(SimpleRateThrottle):
    """Counts, per address, only the callbacks refused before a signature vouched for them (a
    bad or missing signature, a body too large, a method or content type no gateway uses).
    Past CALLBACK_UNSIGNED_THROTTLE_RATE that address's unsigned callbacks are refused (429)
    before they are stored, so what anyone may make us store is bounded. A callback's
    signature is checked before it is stored, and a signed one is never counted nor looked up
    here: a gateway's callbacks are never held back, and cost no round trip to the cache."""

    scope = "callbacks_unsigned"

    def __init__(self) -> None:
        super().__init__()
        limit, window = self.parse_rate(self.rate)
        self.limit, self.window = limit or 0, window or 0

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request: Request, view: APIView) -> bool:
        if self.rate is None:
            return True
        self._read_history(request, view)
        return len(self.history) < self.limit

    def count_refusal(self, request: Request, view: APIView) -> None:
        if self.rate is None:
            return
        self._read_history(request, view)
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.window)

    def _read_history(self, request: Request, view: APIView) -> None:
        self.key = self.get_cache_key(request, view)
        self.now = self.timer()
        self.history = [at for at in self.cache.get(self.key, []) if at > self.now - self.window]


class CallbackView(APIView):
    """What every callback endpoint shares: nobody signs in, the signature is the check; a body
    larger than the gateway ever sends is refused (413) before it is stored."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    content_negotiation_class = GatewaysAnswer
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "callbacks"
    # Not part of the API's schema: the gateways, not API clients, call these.
    schema = None
    max_body_bytes = 0
    # Whose callbacks these are (Gateway), for the metrics.
    gateway = ""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise CallbackTooLarge()
        try:
            size = len(request.body)
        except RequestDataTooBig:
            raise CallbackTooLarge() from None
        if size > self.max_body_bytes:
            raise CallbackTooLarge()

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if 400 <= response.status_code < 500:
            reason = (
                "too_large"
                if isinstance(exc, CallbackTooLarge)
                else "throttled"
                if isinstance(exc, Throttled)
                else "malformed"
            )
            callbacks_refused_unstored.labels(self.gateway, reason).inc()
        # Refused before anything could be verified (throttled ones are not counted again).
        if 400 <= response.status_code < 500 and response.status_code != 429:
            self.count_unsigned(self.request)
        return response

    def count_unsigned(self, request: Request) -> None:
        """Count a callback refused before a signature vouched for it against its address."""
        UnsignedCallbackThrottle().count_refusal(request, self)

    def refuse_unsigned_past_the_rate(self, request: Request) -> None:
        """Raise Throttled (429) for an unsigned callback from an address past its rate, before
        anything of it is stored."""
        throttle = UnsignedCallbackThrottle()
        if not throttle.allow_request(request, self):
            raise Throttled(wait=throttle.wait())

    def record(
        self,
        request: Request,
        gateway: str,
        *,
        kept_headers: tuple[str, ...],
        reference: str = "",
        signature_valid: bool | None = None,
    ) -> GatewayCallback:
        """Store the callback as it arrived, before anything is done with it. `reference` is
        what the callback says it is about: filed under it, a notification on its way is seen
        (`gateways.selectors.callback_awaiting_apply`). `signature_valid` is what the signature
        check before storing found."""
        # The raw body first: a multipart form's bytes are gone once the form is parsed.
        body = request.body.decode("utf-8", errors="replace")
        return callback_record(
            gateway=gateway,
            external_reference=reference,
            body=body,
            signature_valid=signature_valid,
            content_type=request.content_type or "",
            headers={
                name: request.headers[name] for name in kept_headers if name in request.headers
            },
            remote_addr=request.META.get("REMOTE_ADDR"),
        )


class EcpayNotificationView(CallbackView):
    """ECPay's ReturnURL and PaymentInfoURL. Answers exactly `1|OK`, or `0|<reason>`; a worker
    applies what is answered 1|OK (`payments.ecpay.notifications.ecpay_notification_receive`).

    Without the database (the connection dropped, a lock wait timed out) it answers 503
    `0|database unavailable`, which ECPay delivers again later: a 500 would say we broke. The
    redelivery is applied then; if this delivery was stored before the failure, the stranded
    sweep applies it too, and whichever comes second is a duplicate.
    """

    # ECPay posts a form. The body is stored and verified as it arrived; the parser only reads
    # the MerchantTradeNo the callback says it is about, to file it under.
    parser_classes = [FormParser, MultiPartParser]
    renderer_classes = [EcpayAnswerRenderer]
    # A notification is some thirty short fields, a few KB with NeedExtraPaidInfo's.
    max_body_bytes = 32 * 1024
    gateway = Gateway.ECPAY

    def post(self, request: Request) -> Response:
        # The CheckMacValue first: pure computation, so nothing is lost if it fails, and an
        # unsigned notification from an address past its rate is refused before it is stored.
        checked = ecpay_notification_check(request.body.decode("utf-8", errors="replace"))
        if not checked.signed:
            self.refuse_unsigned_past_the_rate(request)
        # A signed form is read already; an unsigned one only for staff to find it by.
        notification = checked.notification
        reference = (
            notification.merchant_trade_no
            if notification is not None
            else _form_field(request, "MerchantTradeNo")
        )
        try:
            callback = self.record(
                request,
                Gateway.ECPAY,
                kept_headers=_KEPT_HEADERS,
                reference=reference,
                signature_valid=checked.signed,
            )
            answer = ecpay_notification_receive(callback=callback, checked=checked)
            if not checked.signed:
                self.count_unsigned(request)
        except (OperationalError, InterfaceError):
            # Django drops the broken connection itself once the request is finished (an
            # unusable connection is closed, CONN_HEALTH_CHECKS), so the redelivery gets a new one.
            logger.warning("ECPay notification not applied: the database failed", exc_info=True)
            return Response("0|database unavailable", status=503)
        return Response(answer)


class WalletCallbackView(CallbackView):
    """The wallet's and the bank app's callback: store, verify, parse, act once. 200 for anything
    safely handled, 4xx with the API's error shape for a refusal."""

    # The signature covers the body's bytes and `gateways.wallet.parse_callback` reads its
    # amount as an exact decimal, so the view never parses the JSON itself.
    parser_classes = [JSONParser]
    renderer_classes = [WalletAnswerRenderer]
    # A callback is four short fields.
    max_body_bytes = 8 * 1024

    def post(self, request: Request) -> Response:
        signed = wallet_callback_signed(
            gateway=self.gateway,
            body=request.body,
            signature=request.headers.get("X-Signature"),
            timestamp=request.headers.get("X-Timestamp"),
        )
        if not signed:
            self.refuse_unsigned_past_the_rate(request)
        callback = self.record(
            request, self.gateway, kept_headers=_WALLET_KEPT_HEADERS, signature_valid=signed
        )
        verdict = wallet_callback_receive(
            callback=callback,
            body=request.body,
            signature=request.headers.get("X-Signature"),
            timestamp=request.headers.get("X-Timestamp"),
        )
        if not signed:
            self.count_unsigned(request)
        if verdict.invalid_field is not None:
            field, message = verdict.invalid_field
            refusal = {
                "code": verdict.code,
                "message": "The callback is malformed.",
                "fields": {field: [message]},
            }
            return Response(refusal, status=verdict.status)
        if verdict.outcome == CallbackOutcome.REJECTED:
            refusal = {"code": verdict.code, "message": verdict.reason}
            return Response(refusal, status=verdict.status)
        return Response({"status": verdict.answer})


def _form_field(request: Request, name: str) -> str:
    """A field of a posted form, or "" for a body that is not one: such a body is stored all
    the same, and refused once it is read (`payments.ecpay.notifications`)."""
    try:
        value = request.POST.get(name, "")
    except (ParseError, UnsupportedMediaType, SuspiciousOperation):
        return ""
    return str(value)


ecpay_notification = EcpayNotificationView.as_view()
wallet_callback = WalletCallbackView.as_view(gateway=Gateway.WALLET)
bank_app_callback = WalletCallbackView.as_view(gateway=Gateway.BANK_APP)
