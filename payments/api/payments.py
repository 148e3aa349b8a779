"""The payments resource (/api/v1/payments/): pay an order or top up by card, on ECPay or from the
balance; read, list and cancel payments."""

import re
from typing import Any

from django.http import Http404
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_view,
)
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import request_caller
from accounts.models import User
from core.api import NewestFirst
from core.exceptions import DomainError
from core.idempotency import idempotent
from core.logging import bind_payment
from core.openapi import (
    CURSOR_PAGE_PARAMETERS,
    IDEMPOTENCY_KEY,
    cursor_page,
    error_response,
    error_responses,
)
from gateways.base import CardDetails
from gateways.models import Gateway
from payments.api.serializers import (
    KIND_REQUIRED,
    PaymentCreateSerializer,
    PaymentFilterSerializer,
    PaymentSerializer,
)
from payments.models import Payment
from payments.queue import pipeline_start
from payments.selectors import payment_get_for_user, payments_visible_to
from payments.services import (
    payment_cancel,
    payment_create_with_card,
    payment_start_ecpay,
    payment_start_from_balance,
)

# The API's examples: one card payment for order 492500005643, as the README's walkthrough makes.
CARD_PAYMENT_REQUEST = OpenApiExample(
    "Card payment for an order",
    request_only=True,
    value={
        "kind": "order",
        "order": "492500005643",
        "amount": "960.00",
        "currency": "TWD",
        "gateway": "card",
        "card": {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
    },
)


PENDING_CARD_PAYMENT = {
    "id": "pay_7Q2M9XK4RT6WZB3N8HC5JDFA",
    "kind": "order",
    "status": "pending",
    "amount": "960.00",
    "currency": "TWD",
    "refunded_amount": "0.00",
    "gateway": "card",
    "method": "card",
    "order": "492500005643",
    "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030},
    "next_action": None,
    "failure_reason": "",
    "created_at": "2025-06-01T14:03:27.512804+08:00",
    "completed_at": None,
}


PENDING_ECPAY_PAYMENT = {
    **PENDING_CARD_PAYMENT,
    "gateway": "ecpay",
    "method": "atm",
    "card": None,
    "next_action": {
        "type": "redirect_to_url",
        "url": "https://payments.example.com/checkout/payments/pay_7Q2M9XK4RT6WZB3N8HC5JDFA/",
    },
}


COMPLETED_CARD_PAYMENT = {
    **PENDING_CARD_PAYMENT,
    "status": "completed",
    "completed_at": "2025-06-01T14:03:29.104117+08:00",
}


@extend_schema_view(
    get=extend_schema(
        # An APIView's GET is taken for a retrieve: name it, or it collides with the detail's.
        operation_id="payments_list",
        summary="List payments",
        description="The caller's payments (every customer's, for staff), newest first, a "
        "cursor page at a time. The filters narrow the list; an unknown value is a 400 naming "
        "the parameter.",
        parameters=[PaymentFilterSerializer, *CURSOR_PAGE_PARAMETERS],
        responses={
            200: cursor_page(PaymentSerializer),
            **error_responses(400, 404, 429),
        },
        examples=[
            OpenApiExample(
                "A page of payments",
                response_only=True,
                value={
                    "next": "https://payments.example.com/api/v1/payments/?cursor=cD0yMDI1LTA2",
                    "previous": None,
                    "results": [COMPLETED_CARD_PAYMENT],
                },
            )
        ],
    ),
    post=extend_schema(
        summary="Start a payment",
        description="Pay for one of the caller's orders (the order's total, in its currency) "
        "or top up the caller's balance (`kind` deposit, in the balance's currency). Answers "
        "202 with the payment, pending:\n\n"
        "- `card`: the card is checked with the provider at once (only its token, brand, last "
        "four digits and expiry are kept), then charged in the background: poll the payment "
        "until it is `completed` or `failed`.\n"
        "- `ecpay`: the customer pays on ECPay's page: send them to `next_action.url`.\n"
        "- `balance`: the caller's balance pays the order in the background.\n\n"
        "An order has one payment under way at a time: while another holds it, the answer is "
        "409 `order_payment_in_progress` naming it (cancel it to pay another way), unless it is "
        "an ECPay payment whose customer was never sent to ECPay, which the new one replaces. "
        "Amounts are range-checked: an order payment at most PAYMENT_MAX_AMOUNT, a deposit at "
        "most DEPOSIT_MAX_AMOUNT and not past what the balance may hold, ECPay within its range "
        "for the method (card 5-199,999, ATM 11-49,999, store code 33-6,000, barcode "
        "17-20,000 TWD); outside them, 400 `amount_out_of_range` naming `amount`.\n\n"
        "Send an `Idempotency-Key` to retry safely.",
        parameters=[IDEMPOTENCY_KEY],
        request=PaymentCreateSerializer,
        responses={
            202: PaymentSerializer,
            **error_responses(400, 415, 422, 429, 502, 503),
            409: error_response(
                409,
                description="Another payment of the order is under way or has paid it (the "
                "answer's `payment` names it), the balance does not cover the order (gateway "
                "balance), or a request with this Idempotency-Key is still being handled: "
                "retry shortly.",
                codes={
                    "order_payment_in_progress": "Another payment of this order is under way. "
                    "Finish it, or cancel it before paying another way.",
                    "order_already_paid": "This order has been paid.",
                    "insufficient_balance": "The balance is too low for this amount.",
                    "idempotency_key_in_use": "A request with this Idempotency-Key is still "
                    "being handled. Try again shortly.",
                },
            ),
        },
        examples=[
            CARD_PAYMENT_REQUEST,
            OpenApiExample(
                "Pending card payment",
                response_only=True,
                status_codes=[202],
                value=PENDING_CARD_PAYMENT,
            ),
        ],
    ),
)
class PaymentListView(APIView):
    def get(self, request: Request) -> Response:
        """The caller's payments (every one, for staff), newest first, a cursor page at a time."""
        filters = PaymentFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        payments = payments_visible_to(user=request_caller(request), filters=filters.validated_data)
        paginator = NewestFirst()
        page = paginator.paginate_queryset(payments, request, view=self)
        return paginator.get_paginated_response(PaymentSerializer(page, many=True).data)

    @idempotent
    def post(self, request: Request) -> Response:
        """Start a payment. Answers 202 with it, pending: the pipeline (card, balance) or the
        customer on ECPay's page (`next_action`) takes it on from there."""
        return payment_started(request, PaymentCreateSerializer)


@extend_schema_view(
    get=extend_schema(
        summary="Get a payment",
        description="A payment of the caller's (any payment, for staff). Anyone else's "
        "answers 404, as if it did not exist. Poll it to follow a payment to `completed` or "
        "`failed`.",
        responses={200: PaymentSerializer, **error_responses(404, 429)},
        examples=[
            OpenApiExample(
                "Completed card payment", response_only=True, value=COMPLETED_CARD_PAYMENT
            )
        ],
    )
)
class PaymentDetailView(APIView):
    def get(self, request: Request, public_id: str) -> Response:
        """A payment of the caller's (any payment, for staff); anyone else gets 404."""
        return Response(PaymentSerializer(visible_payment(request, public_id)).data)


@extend_schema_view(
    post=extend_schema(
        summary="Cancel a pending payment",
        description="Cancel a payment no money has moved for yet: its owner may, and staff "
        "with the `payments.change_payment` permission. A payment that has moved on (being "
        "processed, paid, failed) answers 409. Cancelling lets the order be paid another way. "
        "An ECPay account or code paid after all is not lost: the money is credited to the "
        "customer's balance (the payment becomes `credited`) and staff are asked to look.",
        request=None,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: PaymentSerializer, **error_responses(403, 404, 409, 422, 429)},
        examples=[
            OpenApiExample(
                "Cancelled",
                response_only=True,
                value={**PENDING_ECPAY_PAYMENT, "status": "cancelled", "next_action": None},
            )
        ],
    )
)
class PaymentCancelView(APIView):
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        """Cancel a pending payment: its owner may, and staff with the change permission.
        409 once it has moved on (being processed, paid, failed), `payment_being_settled`
        while ECPay's report on it is being applied (it may say paid)."""
        user = request_caller(request)
        payment = visible_payment(request, public_id)
        if payment.user_id != user.pk and not user.has_perm("payments.change_payment"):
            raise PermissionDenied("Cancelling another customer's payment needs permission.")
        payment = payment_cancel(payment_id=payment.pk, actor=user)
        return Response(PaymentSerializer(payment).data)


def visible_payment(request: Request, public_id: str) -> Payment:
    """The payment if the caller may see it; a 404 otherwise, as if it did not exist."""
    try:
        payment = payment_get_for_user(user=request_caller(request), public_id=public_id)
    except Payment.DoesNotExist:
        raise Http404 from None
    bind_payment(payment.pk)
    return payment


def payment_started(request: Request, serializer_class: type[PaymentCreateSerializer]) -> Response:
    """Validate the request's payment, start it, and answer 202 with it."""
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    payment = _payment_start(
        user=request_caller(request),
        data=serializer.validated_data,
        idempotency_key=request.headers.get("Idempotency-Key"),
    )
    bind_payment(payment.pk)
    return Response(PaymentSerializer(payment).data, status=202)


def _payment_start(*, user: User, data: dict[str, Any], idempotency_key: str | None) -> Payment:
    """Create the payment with its gateway's service; start the pipeline where it has work."""
    if data["gateway"] == Gateway.ECPAY:
        # ECPay's notification takes it on: the pipeline has nothing to do until then.
        return payment_start_ecpay(
            user=user,
            kind=data["kind"],
            order=data["order"],
            amount=data["amount"],
            currency=data["currency"],
            method=data["method"],
            idempotency_key=idempotency_key,
        )
    if data["gateway"] == Gateway.BALANCE:
        payment = payment_start_from_balance(
            user=user, order=data["order"], idempotency_key=idempotency_key
        )
    else:
        card = data["card"]
        payment = payment_create_with_card(
            user=user,
            kind=data["kind"],
            order=data["order"],
            amount=data["amount"],
            currency=data["currency"],
            card=CardDetails(
                number=card["number"],
                exp_month=card["exp_month"],
                exp_year=card["exp_year"],
                cvc=card["cvc"],
            ),
            idempotency_key=idempotency_key,
        )
    pipeline_start(payment.pk)
    return payment


# A payment's public id as `new_payment_public_id` makes it: only such a one is echoed back.
PUBLIC_ID = re.compile(r"pay_[0-9A-Za-z]{24}")


class SeedRouteNotServed(DomainError):
    code = "use_payments_api"
    http_status = 400
    default_message = (
        "This API's payments are at /api/v1/payments/: POST one there with its kind, amount "
        "(a string), currency and gateway; read one at GET /api/v1/payments/{id}/."
    )


@extend_schema(exclude=True)
class SeedPaymentRouteView(APIView):
    """Seed 001's routes, `POST /payment` with `{amount, currency}` and `GET
    /payment?paymentId=`: refused with a 400 that says what to send instead, to anyone (it
    shows nothing), never guessed at. A bare amount says nothing of what it pays for.
    docs/seed-compatibility.md."""

    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        payment_id = request.query_params.get("paymentId", "")
        if PUBLIC_ID.fullmatch(payment_id):
            raise SeedRouteNotServed(
                f"Read this payment at GET /api/v1/payments/{payment_id}/.",
                fields={"paymentId": ["Not a parameter here: the id goes in the path."]},
            )
        raise SeedRouteNotServed()

    def post(self, request: Request) -> Response:
        raise SeedRouteNotServed(fields={"kind": [KIND_REQUIRED]})
