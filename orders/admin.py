from django.contrib import admin

from orders.models import DiscountCode, Order, OrderEvent, OrderItem, PaymentHeader


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin[Order]):
    list_display = ("number", "user", "status", "total", "currency", "created_at")
    list_filter = ("status",)
    search_fields = ("number", "user__email")
    list_select_related = ("user",)
    readonly_fields = ("number", "status", "subtotal", "shipping_fee", "discount", "total")


@admin.register(OrderItem)
class OrderItemAdmin(admin.ModelAdmin[OrderItem]):
    list_display = ("order", "sku", "name", "unit_price", "quantity")
    list_select_related = ("order",)
    readonly_fields = ("unit_price", "quantity")


@admin.register(OrderEvent)
class OrderEventAdmin(admin.ModelAdmin[OrderEvent]):
    list_display = ("order", "type", "from_status", "to_status", "created_at")
    list_select_related = ("order",)


@admin.register(PaymentHeader)
class PaymentHeaderAdmin(admin.ModelAdmin[PaymentHeader]):
    list_display = ("order", "payment", "method", "is_paid", "total_paid", "paid_at")
    list_select_related = ("order", "payment")
    readonly_fields = ("total_paid", "is_paid")


@admin.register(DiscountCode)
class DiscountCodeAdmin(admin.ModelAdmin[DiscountCode]):
    list_display = ("code", "percent_off", "amount_off", "currency", "min_subtotal", "active")
    list_filter = ("active", "currency")
    search_fields = ("code",)
