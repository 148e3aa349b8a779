from django.http import Http404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gateways.base import CardDetails
from payments.api.serializers import CardPaymentCreateSerializer, PaymentSerializer
from payments.models import Payment
from payments.selectors import payment_get_for_user
from payments.services import payment_create_with_card
from payments.tasks import pipeline_start


class PaymentListView(APIView):
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
