from typing import cast

from django.http import Http404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from core.api import NewestFirst
from gateways.base import CardDetails
from payments.api.serializers import (
    CardPaymentCreateSerializer,
    PaymentFilterSerializer,
    PaymentSerializer,
)
from payments.models import Payment
from payments.selectors import payment_get_for_user, payments_visible_to
from payments.services import payment_create_with_card
from payments.tasks import pipeline_start


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
        """Pay with a card. Answers 202 with the pending payment; the pipeline does the rest."""
        serializer = CardPaymentCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        card_data = data["card"]
        payment = payment_create_with_card(
            user=request.user,  # type: ignore[arg-type]
            kind=data["kind"],
            order=data["order"],
            amount=data["amount"],
            currency=data["currency"],
            card=CardDetails(
                number=card_data["number"],
                exp_month=card_data["exp_month"],
                exp_year=card_data["exp_year"],
                cvc=card_data["cvc"],
            ),
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        pipeline_start(payment.pk)
        return Response(PaymentSerializer(payment).data, status=202)


class PaymentDetailView(APIView):
    def get(self, request: Request, public_id: str) -> Response:
        """A payment of the caller's (any payment, for staff); anyone else gets 404."""
        try:
            payment = payment_get_for_user(user=request.user, public_id=public_id)  # type: ignore[arg-type]
        except Payment.DoesNotExist:
            raise Http404 from None
        return Response(PaymentSerializer(payment).data)


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


def _caller(request: Request) -> User:
    # IsAuthenticated (the default permission) has let only signed-in users this far.
    return cast(User, request.user)
