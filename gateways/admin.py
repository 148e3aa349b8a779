from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from accounts.admin import ActionPermissions, staff_member
from gateways.models import GatewaySwitch
from gateways.services import gateway_set_paused


@admin.register(GatewaySwitch)
class GatewaySwitchAdmin(ActionPermissions, admin.ModelAdmin[GatewaySwitch]):
    """Pausing a gateway: its payments wait in the pipeline until it is unpaused. Staff with
    `gateways.change_gatewayswitch` pause or unpause with the actions, saying why; a gateway
    never switched before is added here (paused or not). Every change goes through
    `gateway_set_paused`, which keeps who made it. "Tripped at" is the circuit breaker's own
    pause (payments/services/breaker.py): it ends when a probe finds the gateway answering, or
    when staff unpause; staff's pause outlasts any probe."""

    list_display = (
        "gateway",
        "paused",
        "reason",
        "tripped_at",
        "failures",
        "probed_at",
        "changed_by",
        "changed_at",
    )
    list_select_related = ("changed_by",)
    fields = ("gateway", "paused", "reason")
    actions = ("pause", "unpause")
    action_permissions = {"switch": "gateways.change_gatewayswitch"}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_switch_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the actions change a switch, saying why

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_switch_permission(self, request: HttpRequest) -> bool:
        return self.action_allowed(request, "switch")

    def save_model(self, request: HttpRequest, obj: GatewaySwitch, form: Any, change: bool) -> None:
        switch = gateway_set_paused(
            gateway=obj.gateway, paused=obj.paused, by=staff_member(request), reason=obj.reason
        )
        obj.pk = switch.pk  # the admin's log entry and redirect name the row the service wrote

    @admin.action(description="Pause the selected gateways", permissions=["switch"])
    def pause(
        self, request: HttpRequest, queryset: QuerySet[GatewaySwitch]
    ) -> TemplateResponse | None:
        return self._switch(request, queryset, paused=True)

    @admin.action(description="Unpause the selected gateways", permissions=["switch"])
    def unpause(
        self, request: HttpRequest, queryset: QuerySet[GatewaySwitch]
    ) -> TemplateResponse | None:
        return self._switch(request, queryset, paused=False)

    def _switch(
        self, request: HttpRequest, queryset: QuerySet[GatewaySwitch], *, paused: bool
    ) -> TemplateResponse | None:
        switches = list(queryset.order_by("pk"))
        verb = "pause" if paused else "unpause"
        form = SwitchReasonForm(request.POST if request.POST.get("post") == "yes" else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": f"{verb.capitalize()} gateways",
                "opts": self.model._meta,
                "intro": (
                    f"{verb.capitalize()} these gateways? Paused, their payments wait in the "
                    "pipeline; none fails for it. Say why."
                ),
                "rows": [str(switch) for switch in switches],
                "selected": [switch.pk for switch in switches],
                "action": verb,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "submit": f"Yes, {verb}",
                "form": form,
            }
            return TemplateResponse(
                request, "admin/payments/payment/action_confirmation.html", context
            )
        actor = staff_member(request)
        for switch in switches:
            after = gateway_set_paused(
                gateway=switch.gateway, paused=paused, by=actor, reason=form.cleaned_data["reason"]
            )
            self.log_change(request, after, f"{verb}d: {form.cleaned_data['reason']}")
            self.message_user(request, f"{after}.", messages.SUCCESS)
        return None


class SwitchReasonForm(forms.Form):
    reason = forms.CharField(max_length=255, help_text="Shown beside the switch.")
