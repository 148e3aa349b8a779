"""The back office's orders: read here, never written. Orders change only through the order
services (API, pipeline), so every amount and status keeps adding up; discount codes are the one
thing staff make here."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.admin import ReadOnlyRecords
from orders.models import DiscountCode, Order, OrderEvent, OrderItem, PaymentHeader


class OrderItemInline(ReadOnlyRecords, admin.TabularInline[OrderItem, Order]):
    model = OrderItem
    fields = ("sku", "name", "unit_price", "quantity")
    extra = 0


class PaymentHeaderInline(ReadOnlyRecords, admin.StackedInline[PaymentHeader, Order]):
    model = PaymentHeader
    verbose_name_plural = "payment header"
    fields = (
        "payment",
        "gateway",
        "method",
        "gateway_payment_id",
        "is_paid",
        "total_paid",
        "currency",
        "paid_at",
    )
    extra = 0


@admin.register(Order)
class OrderAdmin(ReadOnlyRecords, admin.ModelAdmin[Order]):
    list_display = ("number", "user", "status", "total", "currency", "created_at")
    list_filter = ("status", "currency")
    search_fields = ("number", "user__email")
    list_select_related = ("user",)
    fields = (
        "number",
        "user",
        "status",
        "currency",
        "subtotal",
        "shipping_fee",
        "discount",
        "discount_code",
        "total",
        "created_at",
        "updated_at",
    )
    inlines = (OrderItemInline, PaymentHeaderInline)


@admin.register(OrderItem)
class OrderItemAdmin(ReadOnlyRecords, admin.ModelAdmin[OrderItem]):
    list_display = ("order", "sku", "name", "unit_price", "quantity")
    search_fields = ("order__number", "sku")
    list_select_related = ("order",)


@admin.register(OrderEvent)
class OrderEventAdmin(ReadOnlyRecords, admin.ModelAdmin[OrderEvent]):
    list_display = ("order", "type", "from_status", "to_status", "actor", "created_at")
    search_fields = ("order__number",)
    list_select_related = ("order", "actor")


@admin.register(PaymentHeader)
class PaymentHeaderAdmin(ReadOnlyRecords, admin.ModelAdmin[PaymentHeader]):
    list_display = ("order", "payment", "method", "is_paid", "total_paid", "paid_at")
    search_fields = ("order__number", "payment__public_id", "gateway_payment_id")
    list_select_related = ("order", "payment")


@admin.register(DiscountCode)
class DiscountCodeAdmin(admin.ModelAdmin[DiscountCode]):
    list_display = ("code", "percent_off", "amount_off", "currency", "min_subtotal", "active")
    list_filter = ("active", "currency")
    search_fields = ("code",)

    def get_readonly_fields(self, request: HttpRequest, obj: DiscountCode | None = None) -> Any:
        # A new code's terms are set when it is made; afterwards its amounts stay as customers
        # were offered them (deactivate it and make another), like every amount in the admin.
        if obj is not None:
            return ("percent_off", "amount_off", "currency", "min_subtotal")
        return ()
