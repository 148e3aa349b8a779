"""The bare endpoints `make bench` measures the product's against, in the same server.

Each does the least a request of its kind must do on this stack: a ceiling no product code can
beat, so the ratio of the two says what the product's own work costs. Routed under /bench/ only
when BENCH_ENDPOINTS_ENABLED is set (config/urls.py): never in production.
"""

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import request_caller
from gateways.models import Gateway
from payments.models import Payment


class CeilingPaymentSerializer(serializers.Serializer[Any]):
    """The shape of an ECPay deposit's body, without the product's rules."""

    kind = serializers.ChoiceField(choices=["deposit", "order"])
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    currency = serializers.ChoiceField(choices=["TWD"])
    gateway = serializers.ChoiceField(choices=[Gateway.ECPAY, Gateway.CARD])
    method = serializers.CharField(max_length=16)


class CeilingCreateView(APIView):
    """Authenticate and throttle as the API does, validate the body, INSERT one payment row."""

    def post(self, request: Request) -> Response:
        body = CeilingPaymentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            payment = Payment.objects.create(user=request_caller(request), **body.validated_data)
        return Response({"id": payment.public_id}, status=201)


@csrf_exempt
@require_POST
def ceiling_locked_update(request: HttpRequest) -> HttpResponse:
    """Lock one payment by its MerchantTradeNo and UPDATE it: what any notification must do."""
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update()
            .only("pk")
            .get(merchant_trade_no=request.POST["MerchantTradeNo"])
        )
        Payment.objects.filter(pk=payment.pk).update(attempts=F("attempts") + 1)
    return HttpResponse("1|OK", content_type="text/plain; charset=utf-8")
