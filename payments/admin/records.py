"""The payments' records as they were written: events, ledger entries, gateway operations,
when reconciliation last asked the gateway (all read-only), and the discrepancies
reconciliation found, which staff resolve."""

from typing import Any

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from accounts.admin import staff_member
from core.admin import ReadOnlyRecords
from payments.admin.payment import ReasonForm
from payments.models import (
    GatewayOperation,
    LedgerEntry,
    PaymentEvent,
    ReconciliationCheck,
    ReconciliationDiscrepancy,
)
from payments.services import discrepancy_resolve


@admin.register(PaymentEvent)
class PaymentEventAdmin(ReadOnlyRecords, admin.ModelAdmin[PaymentEvent]):
    list_display = ("payment", "type", "from_status", "to_status", "is_error", "created_at")
    list_filter = ("is_error",)
    list_select_related = ("payment",)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyRecords, admin.ModelAdmin[LedgerEntry]):
    list_display = ("user", "entry_type", "amount", "currency", "balance_after", "created_at")
    list_filter = ("entry_type",)
    list_select_related = ("user",)


@admin.register(GatewayOperation)
class GatewayOperationAdmin(ReadOnlyRecords, admin.ModelAdmin[GatewayOperation]):
    list_display = ("idempotency_key", "kind", "amount", "status", "payment", "created_at")
    list_filter = ("status", "kind", "gateway")
    search_fields = ("idempotency_key", "external_id", "payment__public_id")
    list_select_related = ("payment",)


@admin.register(ReconciliationCheck)
class ReconciliationCheckAdmin(ReadOnlyRecords, admin.ModelAdmin[ReconciliationCheck]):
    list_display = ("payment", "asked_at", "times_asked", "answer")
    search_fields = ("payment__public_id", "payment__merchant_trade_no")
    list_select_related = ("payment",)


@admin.register(ReconciliationDiscrepancy)
class ReconciliationDiscrepancyAdmin(admin.ModelAdmin[ReconciliationDiscrepancy]):
    """Differences reconciliation found: the queue is the unresolved ones (filter "resolved at:
    no date"); each is resolved with the "resolve" action, saying who and why."""

    list_display = ("payment", "kind", "found_at", "resolved_by", "resolved_at")
    list_filter = ("kind", "resolved_at")
    search_fields = ("payment__public_id", "payment__merchant_trade_no")
    list_select_related = ("payment", "resolved_by")
    readonly_fields = (
        "payment",
        "kind",
        "details",
        "found_at",
        "resolved_by",
        "resolved_at",
        "resolution",
    )
    actions = ("resolve",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Resolve", permissions=["change"])
    def resolve(
        self, request: HttpRequest, queryset: QuerySet[ReconciliationDiscrepancy]
    ) -> HttpResponse | None:
        discrepancies = list(queryset.select_related("payment").order_by("pk"))
        form = ReasonForm(request.POST if request.POST.get("post") == "yes" else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": "Resolve discrepancies",
                "opts": self.model._meta,
                "intro": "Mark these resolved? Say what was done.",
                "rows": [f"{d.payment}: {d.get_kind_display()}" for d in discrepancies],
                "selected": [d.pk for d in discrepancies],
                "action": "resolve",
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "submit": "Yes, resolved",
                "form": form,
            }
            return TemplateResponse(
                request, "admin/payments/payment/action_confirmation.html", context
            )
        actor = staff_member(request)
        for discrepancy in discrepancies:
            discrepancy_resolve(
                discrepancy_id=discrepancy.pk, actor=actor, resolution=form.cleaned_data["reason"]
            )
        self.message_user(request, f"{len(discrepancies)} discrepancy(ies) resolved.")
        return None
