from datetime import date
from decimal import Decimal
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from core.models import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, Currency
from gateways.card.validation import card_number_valid
from gateways.models import Gateway
from orders.models import Order, OrderStatus
from payments.models import Payment, PaymentKind, PaymentMethod, PaymentStatus


class CardSerializer(serializers.Serializer[Any]):
    number = serializers.CharField(write_only=True, max_length=32)
    exp_month = serializers.IntegerField(min_value=1, max_value=12)
    exp_year = serializers.IntegerField(min_value=2000, max_value=2100)
    cvc = serializers.CharField(write_only=True, max_length=8)

    def validate_number(self, value: str) -> str:
        digits = value.replace(" ", "").replace("-", "")
        if not card_number_valid(digits):
            raise serializers.ValidationError("This is not a valid card number.")
        return digits

    def validate_cvc(self, value: str) -> str:
        if not (value.isdigit() and len(value) in (3, 4)):
            raise serializers.ValidationError("The security code is 3 or 4 digits.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        today: date = timezone.localdate()
        if (attrs["exp_year"], attrs["exp_month"]) < (today.year, today.month):
            raise serializers.ValidationError({"exp_year": ["The card has expired."]})
        return attrs


class CardPaymentCreateSerializer(serializers.Serializer[Any]):
    """A card payment for one of the caller's orders, or a deposit to the caller's balance."""

    kind = serializers.ChoiceField(choices=[PaymentKind.ORDER, PaymentKind.DEPOSIT])
    order = serializers.CharField(required=False, help_text="The order's number, for kind order.")
    amount = serializers.DecimalField(
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        min_value=Decimal("0.01"),
    )
    currency = serializers.ChoiceField(choices=Currency.choices)
    card = CardSerializer()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        user = self.context["request"].user
        if attrs["kind"] == PaymentKind.DEPOSIT:
            if "order" in attrs:
                raise serializers.ValidationError({"order": ["A deposit is not for an order."]})
            if attrs["currency"] != user.balance_currency:
                raise serializers.ValidationError(
                    {"currency": [f"The balance is kept in {user.balance_currency}."]}
                )
            attrs["order"] = None
            return attrs
        order: Order = self._payable_order(user, attrs.get("order"))
        attrs["order"] = order
        if (attrs["amount"], attrs["currency"]) != (order.total, order.currency):
            raise serializers.ValidationError(
                {"amount": [f"Must be the order's total, {order.total} {order.currency}."]}
            )
        return attrs

    def _payable_order(self, user: Any, number: str | None) -> Order:
        if not number:
            raise serializers.ValidationError({"order": ["An order payment needs the order."]})
        order = Order.objects.filter(user=user, number=number).first()
        if order is None:
            raise serializers.ValidationError({"order": ["No such order."]})
        if order.status != OrderStatus.PENDING_PAYMENT:
            raise serializers.ValidationError({"order": ["This order is not waiting for payment."]})
        return order


class PaymentSerializer(serializers.ModelSerializer[Payment]):
    id = serializers.CharField(source="public_id")
    order = serializers.SlugRelatedField[Order](slug_field="number", read_only=True)
    card = serializers.SerializerMethodField()

    class Meta:
        model = Payment
        fields = [
            "id",
            "kind",
            "status",
            "amount",
            "currency",
            "refunded_amount",
            "gateway",
            "method",
            "order",
            "card",
            "failure_reason",
            "created_at",
            "completed_at",
        ]
        read_only_fields = fields

    def get_card(self, payment: Payment) -> dict[str, Any] | None:
        if not payment.card_last4:
            return None
        return {
            "brand": payment.card_brand,
            "last4": payment.card_last4,
            "exp_month": payment.card_exp_month,
            "exp_year": payment.card_exp_year,
        }


class PaymentFilterSerializer(serializers.Serializer[Any]):
    """The list's query parameters: an unknown value is a 400 naming the parameter."""

    status = serializers.ChoiceField(choices=PaymentStatus.choices, required=False)
    method = serializers.ChoiceField(choices=PaymentMethod.choices, required=False)
    gateway = serializers.ChoiceField(choices=Gateway.choices, required=False)
    order = serializers.CharField(required=False, max_length=12)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
