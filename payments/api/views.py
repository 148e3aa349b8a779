from typing import Any, cast

from django.http import Http404
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from core.api import NewestFirst
from gateways.base import CardDetails
from gateways.models import Gateway
from payments.api.serializers import (
    PaymentCreateSerializer,
    PaymentFilterSerializer,
    PaymentSerializer,
    RefundCreateSerializer,
    RefundSerializer,
)
from payments.models import Payment
from payments.selectors import payment_get_for_user, payment_refunds, payments_visible_to
from payments.services import (
    payment_cancel,
    payment_create_with_card,
    payment_start_ecpay,
    payment_start_from_balance,
    refund_request,
)
from payments.tasks import pipeline_start, refund_start


class PaymentListView(APIView):
    def get(self, request: Request) -> Response:
        """The caller's payments (every one, for staff), newest first, a cursor page at a time."""
        filters = PaymentFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        payments = payments_visible_to(user=_caller(request), filters=filters.validated_data)
        paginator = NewestFirst()
        page = paginator.paginate_queryset(payments, request, view=self)
        return paginator.get_paginated_response(PaymentSerializer(page, many=True).data)

    def post(self, request: Request) -> Response:
        """Start a payment. Answers 202 with it, pending: the pipeline (card, balance) or the
        customer on ECPay's page (`next_action`) takes it on from there."""
        serializer = PaymentCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        payment = _payment_start(
            user=_caller(request),
            data=serializer.validated_data,
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        return Response(PaymentSerializer(payment).data, status=202)


class PaymentDetailView(APIView):
    def get(self, request: Request, public_id: str) -> Response:
        """A payment of the caller's (any payment, for staff); anyone else gets 404."""
        return Response(PaymentSerializer(_visible_payment(request, public_id)).data)


class PaymentCancelView(APIView):
    def post(self, request: Request, public_id: str) -> Response:
        """Cancel a pending payment: its owner may, and staff with the change permission.
        409 once it has moved on (being processed, paid, failed)."""
        user = _caller(request)
        payment = _visible_payment(request, public_id)
        if payment.user_id != user.pk and not user.has_perm("payments.change_payment"):
            raise PermissionDenied("Cancelling another customer's payment needs permission.")
        payment = payment_cancel(payment_id=payment.pk, actor=user)
        return Response(PaymentSerializer(payment).data)


class PaymentRefundsView(APIView):
    def get(self, request: Request, public_id: str) -> Response:
        """The payment's refunds, oldest first."""
        payment = _visible_payment(request, public_id)
        refunds = payment_refunds(payment=payment)
        return Response({"results": RefundSerializer(refunds, many=True).data})

    def post(self, request: Request, public_id: str) -> Response:
        """Refund all or part of a completed order payment: staff with the refund permission.
        Answers 202 with the refund, pending until the gateway has made it."""
        user = _caller(request)
        payment = _visible_payment(request, public_id)
        if not user.has_perm("payments.refund_payment"):
            raise PermissionDenied("Refunds are made by staff with the refund permission.")
        serializer = RefundCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        operation = refund_request(
            payment_id=payment.pk,
            amount=serializer.validated_data.get("amount"),
            reason=serializer.validated_data["reason"],
            actor=user,
        )
        refund_start(operation.pk)
        operation.refresh_from_db()
        return Response(RefundSerializer(operation).data, status=202)


class MeView(APIView):
    def get(self, request: Request) -> Response:
        """Who the caller is, and their balance."""
        user = _caller(request)
        return Response(
            {
                "email": user.email,
                "is_staff": user.is_staff,
                "balance": str(user.balance),
                "balance_currency": user.balance_currency,
            }
        )


def _visible_payment(request: Request, public_id: str) -> Payment:
    """The payment if the caller may see it; a 404 otherwise, as if it did not exist."""
    try:
        return payment_get_for_user(user=_caller(request), public_id=public_id)
    except Payment.DoesNotExist:
        raise Http404 from None


def _caller(request: Request) -> User:
    # IsAuthenticated (the default permission) has let only signed-in users this far.
    return cast(User, request.user)


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
