from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import AmountField, FieldsBuiltOnce, FilterDateTimeField, QueryFilters
from core.models import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, Currency
from gateways.card.validation import card_number_valid
from gateways.models import Gateway
from orders.models import Order, OrderStatus
from payments.exceptions import OrderAlreadyPaid
from payments.models import (
    GatewayOperation,
    OperationStatus,
    Payment,
    PaymentKind,
    PaymentMethod,
    PaymentStatus,
)
from payments.services import ECPAY_METHODS


class CardSerializer(serializers.Serializer[Any]):
    # The patterns are the schema's too: ASCII digits (a space or a dash between them in a
    # number), never another script's, which str.isdigit would take. The number's checksum
    # (Luhn) is checked on top: no pattern can say it.
    number = serializers.RegexField(
        r"^[0-9][0-9 -]{10,29}[0-9]$",
        write_only=True,
        max_length=32,
        error_messages={"invalid": "This is not a valid card number."},
    )
    exp_month = serializers.IntegerField(min_value=1, max_value=12)
    exp_year = serializers.IntegerField(min_value=2000, max_value=2100)
    cvc = serializers.RegexField(
        r"^[0-9]{3,4}$",
        write_only=True,
        error_messages={"invalid": "The security code is 3 or 4 digits."},
    )

    def validate_number(self, value: str) -> str:
        digits = value.replace(" ", "").replace("-", "")
        if not card_number_valid(digits):
            raise serializers.ValidationError("This is not a valid card number.")
        return digits

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        today: date = timezone.localdate()
        if (attrs["exp_year"], attrs["exp_month"]) < (today.year, today.month):
            raise serializers.ValidationError({"exp_year": ["The card has expired."]})
        return attrs


# What an API client can pay with: the card provider (card details in the request), ECPay's page
# (the customer is sent there: `next_action`), or the caller's balance (orders only).
API_GATEWAYS = [Gateway.CARD, Gateway.ECPAY, Gateway.BALANCE]


# A payment says what it pays. Seed 001's bare {"amount", "currency"} names nothing: it is
# refused with what to send instead (docs/seed-compatibility.md).
KIND_REQUIRED = (
    'Say what the payment is for: "order" (with "order", the order\'s number) or "deposit" (a '
    'top-up of the balance), with "gateway" ("card" with "card", "ecpay" with "method", or '
    '"balance") beside "amount" (a string, like "960") and "currency".'
)


class PaymentCreateSerializer(FieldsBuiltOnce):
    """A payment for one of the caller's orders, or a deposit to the caller's balance."""

    kind = serializers.ChoiceField(
        choices=[PaymentKind.ORDER, PaymentKind.DEPOSIT],
        error_messages={"required": KIND_REQUIRED},
    )
    order = serializers.CharField(required=False, help_text="The order's number, for kind order.")
    amount = AmountField(min_value=Decimal("0.01"))
    currency = serializers.ChoiceField(choices=Currency.choices)
    gateway = serializers.ChoiceField(
        choices=API_GATEWAYS,
        default=Gateway.CARD,
        help_text="card: the card in `card` is charged. ecpay: the customer pays on ECPay's "
        "page (follow `next_action`). balance: the caller's balance pays an order.",
    )
    method = serializers.ChoiceField(
        choices=list(ECPAY_METHODS),
        required=False,
        help_text="For gateway ecpay: what the customer pays with on ECPay's page (default card).",
    )
    card = CardSerializer(required=False, help_text="For gateway card only.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        gateway = attrs["gateway"]
        if gateway == Gateway.CARD and "card" not in attrs:
            raise serializers.ValidationError({"card": ["A card payment needs the card."]})
        if gateway != Gateway.CARD and "card" in attrs:
            raise serializers.ValidationError({"card": ["Only a card payment takes a card."]})
        if gateway != Gateway.ECPAY and "method" in attrs:
            raise serializers.ValidationError({"method": ["Only ECPay payments take a method."]})
        if gateway == Gateway.BALANCE and attrs["kind"] != PaymentKind.ORDER:
            raise serializers.ValidationError({"kind": ["The balance pays orders only."]})
        attrs.setdefault("method", PaymentMethod.CARD)
        return self._validate_target(attrs)

    def _validate_target(self, attrs: dict[str, Any]) -> dict[str, Any]:
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
        if order.status in (OrderStatus.PAID, OrderStatus.REFUNDED):
            # The answer a payment losing the race for the order gets (payments.services):
            # 409, naming the payment that paid it.
            paid_by = (
                Payment.objects.filter(claimed_order=order).values_list("public_id", flat=True)
            ).first()
            raise OrderAlreadyPaid(payment=paid_by)
        if order.status != OrderStatus.PENDING_PAYMENT:
            raise serializers.ValidationError({"order": ["This order is not waiting for payment."]})
        return order


class PaymentCardSerializer(serializers.Serializer[Any]):
    """All that is kept of a card: never its number or security code."""

    brand = serializers.CharField()
    last4 = serializers.CharField()
    exp_month = serializers.IntegerField()
    exp_year = serializers.IntegerField()


class NextActionSerializer(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=["redirect_to_url", "pay_with_code"])
    url = serializers.URLField(
        required=False,
        help_text="redirect_to_url: open it in the customer's browser, once; it takes them to "
        "ECPay's page.",
    )
    code = serializers.CharField(
        required=False,
        help_text="pay_with_code: the ATM account, store payment number or barcodes to pay with.",
    )
    bank = serializers.CharField(required=False, help_text="pay_with_code: the ATM bank's code.")
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="pay_with_code: pay before this."
    )


class PaymentSerializer(FieldsBuiltOnce, serializers.ModelSerializer[Payment]):
    id = serializers.CharField(source="public_id")
    # Null for a deposit: said here so the schema says it too.
    order = serializers.SlugRelatedField[Order](
        slug_field="number", read_only=True, allow_null=True
    )
    card = serializers.SerializerMethodField()
    next_action = serializers.SerializerMethodField(
        help_text="What the customer must do for the payment to go on, or null: "
        "`redirect_to_url` (open `url` in the customer's browser, once: it takes them to "
        "ECPay) or `pay_with_code` (an ATM account or store code to pay by `expires_at`)."
    )

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
            "next_action",
            "failure_reason",
            "created_at",
            "completed_at",
        ]
        read_only_fields = fields

    @extend_schema_field(NextActionSerializer(allow_null=True))
    def get_next_action(self, payment: Payment) -> dict[str, Any] | None:
        if payment.gateway != Gateway.ECPAY or payment.status != PaymentStatus.PENDING:
            return None
        if payment.payment_code:
            return {
                "type": "pay_with_code",
                "code": payment.payment_code,
                "bank": payment.payment_code_bank,
                # As every other time in the answer: in the site's zone, its offset said (a bare
                # datetime here would go out in UTC).
                "expires_at": serializers.DateTimeField().to_representation(
                    payment.payment_code_expires_at
                )
                if payment.payment_code_expires_at
                else None,
            }
        path = reverse("checkout:payment", args=[payment.public_id])
        return {"type": "redirect_to_url", "url": settings.SITE_URL.rstrip("/") + path}

    @extend_schema_field(PaymentCardSerializer(allow_null=True))
    def get_card(self, payment: Payment) -> dict[str, Any] | None:
        if not payment.card_last4:
            return None
        return {
            "brand": payment.card_brand,
            "last4": payment.card_last4,
            "exp_month": payment.card_exp_month,
            "exp_year": payment.card_exp_year,
        }


class MeSerializer(serializers.Serializer[Any]):
    """The caller (GET /api/v1/me/)."""

    email = serializers.EmailField()
    is_staff = serializers.BooleanField(
        help_text="A member of staff: with the view permission, they see every customer's "
        "payments and orders."
    )
    balance = serializers.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES
    )
    balance_currency = serializers.ChoiceField(choices=Currency.choices)


class PaymentFilterSerializer(QueryFilters):
    """The list's query parameters: an unknown value is a 400 naming the parameter."""

    hints = {
        # Seed 001's way to read one payment: a filter here would be silently ignored.
        "paymentId": "Not a parameter of this list. To read one payment, GET "
        "/api/v1/payments/{id}/ (its id, like pay_...).",
    }

    status = serializers.ChoiceField(choices=PaymentStatus.choices, required=False)
    method = serializers.ChoiceField(choices=PaymentMethod.choices, required=False)
    gateway = serializers.ChoiceField(choices=Gateway.choices, required=False)
    order = serializers.CharField(required=False, max_length=12)
    created_after = FilterDateTimeField(required=False)
    created_before = FilterDateTimeField(required=False)


class RefundCreateSerializer(serializers.Serializer[Any]):
    amount = AmountField(
        min_value=Decimal("0.01"),
        required=False,
        help_text="How much to refund; all that is left when left out.",
    )
    reason = serializers.CharField(max_length=255, help_text="Why: kept on the timeline.")


class RefundSerializer(serializers.ModelSerializer[GatewayOperation]):
    """A refund: a gateway operation of kind refund, named by its idempotency key."""

    id = serializers.CharField(source="idempotency_key")
    payment = serializers.CharField(source="payment.public_id")
    status = serializers.SerializerMethodField(
        help_text="pending (being made), succeeded or failed (nothing was refunded)."
    )

    class Meta:
        model = GatewayOperation
        fields = ["id", "payment", "amount", "currency", "status", "reason", "created_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=["pending", "succeeded", "failed"]))
    def get_status(self, operation: GatewayOperation) -> str:
        # An unknown outcome is the janitor's to settle: for the client it is still pending.
        if operation.status == OperationStatus.UNKNOWN:
            return OperationStatus.PENDING
        return operation.status
