import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.models import MONEY_MAX, ZERO, MoneyField, TimeStampedModel, currency_field

ORDER_NUMBER_DIGITS = 12


def new_order_number() -> str:
    """A random 12-digit public order number (e.g. 492500005643); sequential ones leak volume."""
    first = str(secrets.randbelow(9) + 1)
    rest = "".join(str(secrets.randbelow(10)) for _position in range(ORDER_NUMBER_DIGITS - 1))
    return first + rest


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Waiting for payment")
    PAID = "paid", _("Paid")
    CANCELLED = "cancelled", _("Cancelled")
    REFUNDED = "refunded", _("Refunded")


# The only moves an order's status may make; `orders.services.order_transition` enforces them.
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.PENDING_PAYMENT: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REFUNDED: frozenset(),
}


class Order(TimeStampedModel):
    number = models.CharField(
        max_length=ORDER_NUMBER_DIGITS, default=new_order_number, verbose_name=_("number")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="orders",
        verbose_name=_("user"),
    )
    status = models.CharField(
        max_length=20,
        choices=OrderStatus.choices,
        default=OrderStatus.PENDING_PAYMENT,
        verbose_name=_("status"),
    )
    currency = currency_field()
    subtotal = MoneyField(default=ZERO, verbose_name=_("subtotal"))
    shipping_fee = MoneyField(default=ZERO, verbose_name=_("shipping fee"))
    discount = MoneyField(default=ZERO, verbose_name=_("discount"))
    total = MoneyField(default=ZERO, verbose_name=_("total"))
    # The discount code the customer used, as typed into the order (upper-case); "" for none.
    discount_code = models.CharField(max_length=32, blank=True, verbose_name=_("discount code"))

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            # Serves lookups by the public number (customer pages, callbacks, staff search).
            models.UniqueConstraint(fields=["number"], name="order_number_unique"),
            models.CheckConstraint(
                condition=Q(status__in=OrderStatus.values), name="order_status_known"
            ),
            models.CheckConstraint(
                condition=Q(subtotal__gte=0, shipping_fee__gte=0, discount__gte=0, total__gte=0),
                name="order_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(total=F("subtotal") + F("shipping_fee") - F("discount")),
                name="order_total_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(subtotal__lte=MONEY_MAX, total__lte=MONEY_MAX),
                name="order_amounts_fit_column",
            ),
        ]
        indexes = [
            # A customer's orders, newest first.
            models.Index(fields=["user", "created_at"], name="order_user_created_idx"),
            # Staff lists filtered by status over a date range.
            models.Index(fields=["status", "created_at"], name="order_status_created_idx"),
        ]

    def __str__(self) -> str:
        return f"Order {self.number}"


class OrderItem(models.Model):
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="items", verbose_name=_("order")
    )
    sku = models.CharField(max_length=64, verbose_name=_("sku"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    unit_price = MoneyField(verbose_name=_("unit price"))
    quantity = models.PositiveIntegerField(verbose_name=_("quantity"))

    class Meta:
        verbose_name = _("order item")
        verbose_name_plural = _("order items")
        constraints = [
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="order_item_price_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="order_item_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.name}"


class OrderEvent(models.Model):
    """Append-only audit trail of an order's status changes."""

    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="events", verbose_name=_("order")
    )
    type = models.CharField(max_length=64, verbose_name=_("type"))
    from_status = models.CharField(max_length=20, blank=True, verbose_name=_("from status"))
    to_status = models.CharField(max_length=20, blank=True, verbose_name=_("to status"))
    data = models.JSONField(default=dict, blank=True, verbose_name=_("data"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        indexes = [
            # An order's timeline in time order.
            models.Index(fields=["order", "created_at"], name="order_event_timeline_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} ({self.from_status} → {self.to_status})"


class PaymentHeader(models.Model):
    """The order's record of how it was paid, written once when a payment completes.

    One per order (the primary key is the order), so a second header cannot exist even if two
    payments for the same order complete at once.
    """

    order = models.OneToOneField(
        Order,
        on_delete=models.PROTECT,
        primary_key=True,
        related_name="payment_header",
        verbose_name=_("order"),
    )
    payment = models.OneToOneField(
        "payments.Payment",
        on_delete=models.PROTECT,
        related_name="order_header",
        verbose_name=_("payment"),
    )
    gateway = models.CharField(max_length=16, verbose_name=_("gateway"))
    method = models.CharField(max_length=16, verbose_name=_("method"))
    # The gateway's id of the payment (ECPay TradeNo, wallet paymentId, card charge id).
    gateway_payment_id = models.CharField(
        max_length=64, blank=True, verbose_name=_("gateway payment id")
    )
    is_paid = models.BooleanField(verbose_name=_("is paid"))
    total_paid = MoneyField(verbose_name=_("total paid"))
    currency = currency_field()
    paid_at = models.DateTimeField(null=True, blank=True, verbose_name=_("paid at"))

    class Meta:
        verbose_name = _("payment header")
        verbose_name_plural = _("payment headers")
        constraints = [
            models.CheckConstraint(
                condition=Q(total_paid__gte=0), name="payment_header_total_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"Payment header of {self.order}"


class DiscountCode(TimeStampedModel):
    """A code a customer can enter for a discount: a percentage or a fixed amount off."""

    code = models.CharField(
        max_length=32, help_text="Upper-case letters and digits.", verbose_name=_("code")
    )
    percent_off = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, verbose_name=_("percent off")
    )
    amount_off = MoneyField(null=True, blank=True, verbose_name=_("amount off"))
    currency = currency_field()
    # The subtotal an order needs for the code to apply.
    min_subtotal = MoneyField(default=ZERO, verbose_name=_("min subtotal"))
    active = models.BooleanField(default=True, verbose_name=_("active"))
    valid_until = models.DateTimeField(null=True, blank=True, verbose_name=_("valid until"))

    class Meta:
        verbose_name = _("discount code")
        verbose_name_plural = _("discount codes")
        constraints = [
            # Serves the lookup by code when an order is priced.
            models.UniqueConstraint(fields=["code"], name="discount_code_unique"),
            models.CheckConstraint(
                condition=(
                    Q(percent_off__isnull=False, amount_off__isnull=True)
                    | Q(percent_off__isnull=True, amount_off__isnull=False)
                ),
                name="discount_code_percent_or_amount",
            ),
            models.CheckConstraint(
                condition=Q(percent_off__isnull=True) | Q(percent_off__gt=0, percent_off__lte=100),
                name="discount_code_percent_in_range",
            ),
            models.CheckConstraint(
                condition=Q(amount_off__isnull=True) | Q(amount_off__gt=0),
                name="discount_code_amount_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.code
