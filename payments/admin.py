from django.contrib import admin

from payments.models import (
    GatewayOperation,
    LedgerEntry,
    Payment,
    PaymentEvent,
    ReconciliationDiscrepancy,
)


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin[Payment]):
    list_display = (
        "public_id",
        "user",
        "kind",
        "gateway",
        "method",
        "amount",
        "currency",
        "status",
        "created_at",
    )
    list_filter = ("status", "gateway", "method", "kind")
    search_fields = ("public_id", "merchant_trade_no", "gateway_reference", "user__email")
    list_select_related = ("user",)
    # Money and status change only through the payment services.
    readonly_fields = ("public_id", "status", "amount", "currency", "refunded_amount")


@admin.register(PaymentEvent)
class PaymentEventAdmin(admin.ModelAdmin[PaymentEvent]):
    list_display = ("payment", "type", "from_status", "to_status", "is_error", "created_at")
    list_filter = ("is_error",)
    list_select_related = ("payment",)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin[LedgerEntry]):
    list_display = ("user", "entry_type", "amount", "currency", "balance_after", "created_at")
    list_filter = ("entry_type",)
    list_select_related = ("user",)
    readonly_fields = ("amount", "balance_after")


@admin.register(GatewayOperation)
class GatewayOperationAdmin(admin.ModelAdmin[GatewayOperation]):
    list_display = ("idempotency_key", "payment", "kind", "amount", "status", "created_at")
    list_filter = ("status", "kind", "gateway")
    search_fields = ("idempotency_key", "external_id", "payment__public_id")
    list_select_related = ("payment",)
    readonly_fields = ("amount", "currency", "status", "external_id", "idempotency_key")


@admin.register(ReconciliationDiscrepancy)
class ReconciliationDiscrepancyAdmin(admin.ModelAdmin[ReconciliationDiscrepancy]):
    list_display = ("payment", "kind", "found_at", "resolved_by", "resolved_at")
    list_filter = ("kind", "resolved_at")
    search_fields = ("payment__public_id", "payment__merchant_trade_no")
    list_select_related = ("payment", "resolved_by")
    readonly_fields = ("payment", "kind", "details", "found_at")
