"""The caller's wallet: balance, ledger, deposits (top-ups) and withdrawals."""

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import request_caller
from accounts.models import User
from core.api import AmountField, NewestFirst, QueryFilters
from core.idempotency import idempotent
from core.models import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, Currency
from core.openapi import (
    CURSOR_PAGE_PARAMETERS,
    IDEMPOTENCY_KEY,
    cursor_page,
    error_response,
    error_responses,
)
from payments.api.payments import PENDING_ECPAY_PAYMENT, payment_started
from payments.api.serializers import PaymentCreateSerializer, PaymentSerializer
from payments.models import LedgerEntry, PaymentKind
from payments.selectors import ledger_entries_of
from payments.services import balance_withdraw

DEPOSIT_ENTRY = {
    "entry_type": "deposit",
    "amount": "500.00",
    "currency": "TWD",
    "balance_after": "500.00",
    "payment": "pay_7Q2M9XK4RT6WZB3N8HC5JDFA",
    "created_at": "2025-06-01T14:03:29.104117+08:00",
}


class WalletSerializer(serializers.Serializer[User]):
    balance = serializers.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
    )
    currency = serializers.CharField(source="balance_currency")


class LedgerEntrySerializer(serializers.ModelSerializer[LedgerEntry]):
    payment = serializers.CharField(source="payment.public_id", allow_null=True, default=None)

    class Meta:
        model = LedgerEntry
        fields = ["entry_type", "amount", "currency", "balance_after", "payment", "created_at"]
        read_only_fields = fields


class DepositCreateSerializer(PaymentCreateSerializer):
    """The body of POST /api/v1/payments/ without `kind` and `order`: it is a deposit."""

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        del fields["kind"], fields["order"]
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return super().validate({**attrs, "kind": PaymentKind.DEPOSIT})


class WithdrawalCreateSerializer(serializers.Serializer[Any]):
    amount = AmountField(min_value=Decimal("0.01"))
    currency = serializers.ChoiceField(choices=Currency.choices)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        user = self.context["request"].user
        if attrs["currency"] != user.balance_currency:
            raise serializers.ValidationError(
                {"currency": [f"The balance is kept in {user.balance_currency}."]}
            )
        return attrs


@extend_schema_view(
    get=extend_schema(
        operation_id="wallet_retrieve",
        summary="Get the balance",
        description="The caller's balance and its currency.",
        responses={200: WalletSerializer, **error_responses(429)},
        examples=[
            OpenApiExample(
                "A balance", response_only=True, value={"balance": "500.00", "currency": "TWD"}
            )
        ],
    )
)
class WalletView(APIView):
    def get(self, request: Request) -> Response:
        """The caller's balance."""
        user = User.objects.only("balance", "balance_currency").get(pk=request_caller(request).pk)
        return Response(WalletSerializer(user).data)


@extend_schema_view(
    get=extend_schema(
        operation_id="wallet_entries_list",
        summary="List the balance's ledger",
        description="Every change to the caller's balance, newest first, a cursor page at a "
        "time: the balance always equals the sum of these amounts.",
        parameters=CURSOR_PAGE_PARAMETERS,
        responses={200: cursor_page(LedgerEntrySerializer), **error_responses(404, 429)},
        examples=[
            OpenApiExample(
                "A page of entries",
                response_only=True,
                value={"next": None, "previous": None, "results": [DEPOSIT_ENTRY]},
            )
        ],
    )
)
class LedgerEntryListView(APIView):
    def get(self, request: Request) -> Response:
        """Every change to the caller's balance, newest first, a cursor page at a time."""
        QueryFilters(data=request.query_params).is_valid(raise_exception=True)  # pages only
        paginator = NewestFirst()
        page = paginator.paginate_queryset(
            ledger_entries_of(user=request_caller(request)), request, view=self
        )
        return paginator.get_paginated_response(LedgerEntrySerializer(page, many=True).data)


@extend_schema_view(
    post=extend_schema(
        summary="Top up the balance",
        description="A deposit to the caller's balance, in the balance's currency: by card "
        "(charged in the background) or through ECPay (send the customer to `next_action.url`). "
        "Answers 202 with the pending deposit payment; the balance grows when it completes.",
        parameters=[IDEMPOTENCY_KEY],
        request=DepositCreateSerializer,
        responses={202: PaymentSerializer, **error_responses(400, 409, 415, 422, 429, 502, 503)},
        examples=[
            OpenApiExample(
                "By ECPay ATM transfer",
                request_only=True,
                value={"amount": "500", "currency": "TWD", "gateway": "ecpay", "method": "atm"},
            ),
            OpenApiExample(
                "Pending ECPay deposit",
                response_only=True,
                status_codes=[202],
                value={
                    **PENDING_ECPAY_PAYMENT,
                    "kind": "deposit",
                    "order": None,
                    "amount": "500.00",
                },
            ),
        ],
    )
)
class DepositCreateView(APIView):
    @idempotent
    def post(self, request: Request) -> Response:
        """Top up the balance by card or through ECPay; the balance grows once it is paid.
        Answers 202 with the pending deposit payment (with `next_action` for ECPay)."""
        return payment_started(request, DepositCreateSerializer)


@extend_schema_view(
    post=extend_schema(
        summary="Withdraw from the balance",
        description="Take money out of the caller's balance at once: answers 201 with the "
        "completed withdrawal, or 409 `insufficient_balance` (and nothing changes) when the "
        "balance is too low.",
        parameters=[IDEMPOTENCY_KEY],
        request=WithdrawalCreateSerializer,
        responses={
            201: PaymentSerializer,
            **error_responses(400, 415, 422, 429),
            409: error_response(
                409,
                description="The balance is too low, or a request with this Idempotency-Key "
                "is still being handled.",
                codes={"insufficient_balance": "The balance is too low for this amount."},
            ),
        },
        examples=[
            OpenApiExample(
                "Withdraw 200", request_only=True, value={"amount": "200", "currency": "TWD"}
            ),
            OpenApiExample(
                "Completed withdrawal",
                response_only=True,
                status_codes=[201],
                value={
                    **PENDING_ECPAY_PAYMENT,
                    "kind": "withdrawal",
                    "status": "completed",
                    "amount": "200.00",
                    "gateway": "balance",
                    "method": "balance",
                    "order": None,
                    "next_action": None,
                    "completed_at": "2025-06-01T14:03:27.512804+08:00",
                },
            ),
        ],
    )
)
class WithdrawalCreateView(APIView):
    @idempotent
    def post(self, request: Request) -> Response:
        """Take money out of the balance at once. 409 if the balance is too low."""
        serializer = WithdrawalCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        payment = balance_withdraw(
            user=request_caller(request),
            amount=serializer.validated_data["amount"],
            currency=serializer.validated_data["currency"],
        )
        return Response(PaymentSerializer(payment).data, status=201)
