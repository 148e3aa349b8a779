"""A payment's refunds (/api/v1/payments/{id}/refunds/): staff ask for one, anyone who may see the
payment lists them."""

from typing import Any, cast

from drf_spectacular.utils import (
    OpenApiExample,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import request_caller
from core.idempotency import idempotent
from core.openapi import (
    IDEMPOTENCY_KEY,
    error_response,
    error_responses,
)
from payments.api.payments import visible_payment
from payments.api.serializers import (
    RefundCreateSerializer,
    RefundSerializer,
)
from payments.models import GatewayOperation, RefundApproval
from payments.refunds.approvals import refund_ask
from payments.selectors import payment_refunds

SUCCEEDED_REFUND = {
    "id": "pay_7Q2M9XK4RT6WZB3N8HC5JDFA-refund-1",
    "payment": "pay_7Q2M9XK4RT6WZB3N8HC5JDFA",
    "amount": "100.00",
    "currency": "TWD",
    "status": "succeeded",
    "reason": "one tin arrived dented",
    "created_at": "2025-06-03T10:12:45.200114+08:00",
}


AWAITING_APPROVAL_REFUND = {
    "approval": 17,
    "payment": "pay_7Q2M9XK4RT6WZB3N8HC5JDFA",
    "amount": "25000.00",
    "currency": "TWD",
    "status": "awaiting_approval",
    "reason": "the whole shipment was lost",
    "created_at": "2025-06-03T10:12:45.200114+08:00",
}


# A refund that takes its payment's refunds above REFUND_APPROVAL_THRESHOLD is not made yet: it
# waits for a second manager.
REFUND_AWAITING_APPROVAL = inline_serializer(
    name="RefundAwaitingApproval",
    fields={
        "approval": serializers.IntegerField(help_text="The approval request's number."),
        "payment": serializers.CharField(),
        "amount": serializers.DecimalField(
            max_digits=14,
            decimal_places=2,
            allow_null=True,
            help_text="null: all that is left to refund when it is approved.",
        ),
        "currency": serializers.CharField(),
        "status": serializers.ChoiceField(choices=["awaiting_approval"]),
        "reason": serializers.CharField(),
        "created_at": serializers.DateTimeField(),
    },
)


@extend_schema_view(
    get=extend_schema(
        operation_id="payments_refunds_list",
        summary="List a payment's refunds",
        description="The refunds asked for a payment, oldest first, for its owner and staff.",
        responses={
            200: inline_serializer(
                name="RefundList", fields={"results": RefundSerializer(many=True)}
            ),
            **error_responses(404, 429),
        },
        examples=[
            OpenApiExample(
                "One partial refund", response_only=True, value={"results": [SUCCEEDED_REFUND]}
            )
        ],
    ),
    post=extend_schema(
        summary="Refund a payment",
        description="Refund all (no `amount`) or part of a completed order payment, paid by "
        "card (the card provider or ECPay) or from the balance: staff with the "
        "`payments.refund_payment` permission only. "
        "Answers 202 with the refund, `pending` until the gateway has made it; follow it in "
        "the list. The service's approval threshold counts what the payment has already "
        "refunded and has pending (at the gateway or waiting for approval) with the refund "
        "asked for: above it the refund is not made yet, the answer is 202 "
        "`awaiting_approval`, and a second manager approves or rejects it in the back office. "
        "One refund of a payment is made at a time (409 `refund_in_progress`). The "
        "whole amount refunded makes the payment (and its order) `refunded`, and the customer "
        "is told. Card payments are refunded at the card provider or at ECPay; ATM and store "
        "payments and wallet payments are refunded outside this service (409 "
        "`payment_not_refundable`).",
        parameters=[IDEMPOTENCY_KEY],
        request=RefundCreateSerializer,
        responses={
            202: PolymorphicProxySerializer(
                component_name="RefundAsked",
                serializers=[RefundSerializer, REFUND_AWAITING_APPROVAL],
                resource_type_field_name=None,
            ),
            **error_responses(400, 403, 404, 415, 422, 429),
            409: error_response(
                409,
                description="The payment cannot be refunded, or a refund of it is being made.",
                codes={
                    "payment_not_refundable": "Only a completed payment is refunded; this one "
                    "is pending.",
                    "refund_in_progress": "A refund of this payment is still being made. Try "
                    "again when it is done.",
                },
            ),
        },
        examples=[
            OpenApiExample(
                "A partial refund",
                request_only=True,
                value={"amount": "100", "reason": "one tin arrived dented"},
            ),
            OpenApiExample(
                "Refund asked for",
                response_only=True,
                status_codes=[202],
                value={**SUCCEEDED_REFUND, "status": "pending"},
            ),
            OpenApiExample(
                "Refund waiting for a second manager",
                response_only=True,
                status_codes=[202],
                value=AWAITING_APPROVAL_REFUND,
            ),
        ],
    ),
)
class PaymentRefundsView(APIView):
    def get(self, request: Request, public_id: str) -> Response:
        """The payment's refunds, oldest first."""
        payment = visible_payment(request, public_id)
        refunds = payment_refunds(payment=payment)
        return Response({"results": RefundSerializer(refunds, many=True).data})

    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        """Refund all or part of a completed order payment: staff with the refund permission.
        Answers 202 with the refund, pending until the gateway has made it."""
        user = request_caller(request)
        payment = visible_payment(request, public_id)
        if not user.has_perm("payments.refund_payment"):
            raise PermissionDenied("Refunds are made by staff with the refund permission.")
        serializer = RefundCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        asked = refund_ask(
            payment_id=payment.pk,
            amount=serializer.validated_data.get("amount"),
            reason=serializer.validated_data["reason"],
            actor=user,
        )
        if asked.approval is not None:
            return Response(_awaiting_approval(asked.approval), status=202)
        operation = cast(GatewayOperation, asked.refund)
        operation.refresh_from_db()
        return Response(RefundSerializer(operation).data, status=202)


def _awaiting_approval(approval: RefundApproval) -> dict[str, Any]:
    return {
        "approval": approval.pk,
        "payment": approval.payment.public_id,
        "amount": None if approval.amount is None else str(approval.amount),
        "currency": approval.payment.currency,
        "status": "awaiting_approval",
        "reason": approval.reason,
        "created_at": approval.created_at.isoformat(),
    }
