from decimal import Decimal
from typing import Any

from rest_framework import serializers

from accounts.models import User
from core.api import AmountField, FilterDateTimeField, QueryFilters
from core.models import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, Currency
from orders.models import Order, OrderItem, OrderStatus, PaymentHeader
from orders.pricing import PRICE_STEP

MAX_ITEMS = 100
MAX_QUANTITY = 10_000


def _money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs
    )


class OrderItemInputSerializer(serializers.Serializer[Any]):
    sku = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    unit_price = AmountField(
        min_value=Decimal("0.01"),
        help_text="A string of digits in the order's currency; TWD is whole dollars.",
    )
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


class OrderCreateSerializer(serializers.Serializer[Any]):
    """A new order: its prices are the caller's, so only callers allowed to add orders send it."""

    customer = serializers.EmailField(
        required=False, help_text="The customer's email address; the caller when left out."
    )
    currency = serializers.ChoiceField(choices=Currency.choices)
    # A ListField, not `many=True`: its length errors land on "items" itself.
    items = serializers.ListField(
        child=OrderItemInputSerializer(), min_length=1, max_length=MAX_ITEMS
    )
    discount_code = serializers.CharField(
        max_length=32, required=False, allow_blank=True, default=""
    )

    def validate_customer(self, value: str) -> User:
        customer = User.objects.filter(email=User.objects.normalize_email(value)).first()
        if customer is None:
            raise serializers.ValidationError("No customer has this email address.")
        return customer

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        step = PRICE_STEP[attrs["currency"]]
        for index, item in enumerate(attrs["items"]):
            if item["unit_price"] % step:
                message = f"Prices in {attrs['currency']} are in steps of {step}."
                raise serializers.ValidationError({f"items.{index}.unit_price": [message]})
        # A total above what one payment may be is refused by `order_create`.
        return attrs


class OrderItemSerializer(serializers.ModelSerializer[OrderItem]):
    class Meta:
        model = OrderItem
        fields = ["sku", "name", "unit_price", "quantity"]
        read_only_fields = fields


class OrderPaymentSerializer(serializers.ModelSerializer[PaymentHeader]):
    """How a paid order was paid: its payment header."""

    id = serializers.CharField(source="payment.public_id", help_text="The payment's id.")

    class Meta:
        model = PaymentHeader
        fields = ["id", "gateway", "method", "total_paid", "currency", "paid_at"]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer[Order]):
    customer = serializers.EmailField(source="user.email", read_only=True)
    items = OrderItemSerializer(many=True, read_only=True)
    payment = OrderPaymentSerializer(
        source="payment_header",
        read_only=True,
        allow_null=True,
        help_text="How the order was paid; null until it is.",
    )

    class Meta:
        model = Order
        fields = [
            "number",
            "customer",
            "status",
            "currency",
            "subtotal",
            "shipping_fee",
            "discount",
            "total",
            "discount_code",
            "items",
            "payment",
            "created_at",
        ]
        read_only_fields = fields


class OrderQuoteSerializer(serializers.Serializer[Any]):
    """What an order costs now, priced again from its items and discount code."""

    order = serializers.CharField(help_text="The order's number.")
    subtotal = _money()
    shipping_fee = _money()
    discount = _money()
    total = _money()
    currency = serializers.ChoiceField(choices=Currency.choices)
    matches_order_total = serializers.BooleanField(
        help_text="Whether the total now is the total stored on the order."
    )


class OrderFilterSerializer(QueryFilters):
    """The list's query parameters: an unknown value is a 400 naming the parameter."""

    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)
    created_after = FilterDateTimeField(required=False)
    created_before = FilterDateTimeField(required=False)
