"""Refunds waiting for a second manager: approved (then made) or rejected, with a note."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from accounts.admin import ActionPermissions, staff_member
from core.admin import ReadOnlyRecords
from core.exceptions import DomainError
from payments.models import RefundApproval
from payments.refunds.approvals import refund_approve, refund_reject


class DecisionForm(forms.Form):
    note = forms.CharField(max_length=1000, help_text="Why: kept on the payment's timeline.")


@admin.register(RefundApproval)
class RefundApprovalAdmin(ActionPermissions, ReadOnlyRecords, admin.ModelAdmin[RefundApproval]):
    """Refunds that take their payment's refunds above REFUND_APPROVAL_THRESHOLD, waiting for
    a second manager. Asked for with the payment's refund action, decided with the actions here."""

    # Where each stands first: the reason and the people follow, cut short (the page has them).
    list_display = (
        "pk",
        "payment",
        "amount",
        "status",
        "reason",
        "requested_by",
        "decided_by",
        "created_at",
    )
    list_filter = ("status",)
    list_select_related = ("payment", "requested_by", "decided_by")
    search_fields = ("payment__public_id",)
    readonly_fields = (
        "payment",
        "amount",
        "reason",
        "requested_by",
        "status",
        "decided_by",
        "decided_at",
        "decision_note",
        "operation",
        "created_at",
    )
    fields = readonly_fields
    actions = ("approve", "reject")
    action_permissions = {"approve": "payments.approve_refund"}

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        user = request.user
        return user.has_perm("payments.approve_refund") or user.has_perm("payments.refund_payment")

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return self.action_allowed(request, "approve")

    @admin.action(description="Approve and refund", permissions=["approve"])
    def approve(
        self, request: HttpRequest, queryset: QuerySet[RefundApproval]
    ) -> HttpResponse | None:
        return self._decide(request, queryset, approve=True)

    @admin.action(description="Reject", permissions=["approve"])
    def reject(
        self, request: HttpRequest, queryset: QuerySet[RefundApproval]
    ) -> HttpResponse | None:
        return self._decide(request, queryset, approve=False)

    def _decide(
        self, request: HttpRequest, queryset: QuerySet[RefundApproval], *, approve: bool
    ) -> HttpResponse | None:
        approvals = list(queryset.select_related("payment", "requested_by").order_by("pk"))
        form = DecisionForm(request.POST if request.POST.get("post") == "yes" else None)
        if not form.is_valid():
            verb = "Approve" if approve else "Reject"
            context = {
                **self.admin_site.each_context(request),
                "title": f"{verb} refunds",
                "opts": self.model._meta,
                "intro": f"{verb} these refunds? You cannot decide one you asked for yourself.",
                "rows": [
                    f"{a.payment}: {a.amount or 'all that is left'}, asked by "
                    f"{a.requested_by.email}: {a.reason} ({a.status})"
                    for a in approvals
                ],
                "selected": [a.pk for a in approvals],
                "action": "approve" if approve else "reject",
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "submit": f"Yes, {verb.lower()}",
                "form": form,
            }
            return TemplateResponse(
                request, "admin/payments/payment/action_confirmation.html", context
            )
        actor = staff_member(request)
        note = form.cleaned_data["note"]
        for approval in approvals:
            try:
                if approve:
                    refund_approve(approval_id=approval.pk, actor=actor, note=note)
                else:
                    refund_reject(approval_id=approval.pk, actor=actor, note=note)
            except DomainError as error:
                self.message_user(
                    request, f"Payment {approval.payment}: {error.message}", messages.ERROR
                )
                continue
            done = "approved: refund asked of the gateway" if approve else "rejected"
            self.message_user(request, f"Payment {approval.payment}: {done}.", messages.SUCCESS)
        return None
