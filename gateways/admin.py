import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.models import User
from core.admin import ReadOnlyRecords
from gateways.models import CallbackOutcome, GatewayCallback, GatewaySwitch
from gateways.services import callback_replay, gateway_set_paused


@admin.register(GatewayCallback)
class GatewayCallbackAdmin(ReadOnlyRecords, admin.ModelAdmin[GatewayCallback]):
    """Every callback as it arrived: evidence, so nobody adds, edits or deletes one. Staff with
    `gateways.replay_callback` may process one again (the "replay" action)."""

    list_display = (
        "pk",
        "gateway",
        "external_reference",
        "signature_valid",
        "outcome",
        "outcome_reason",
        "payment",
        "created_at",
    )
    list_filter = ("gateway", "outcome", "signature_valid")
    search_fields = ("external_reference", "payment__public_id")
    list_select_related = ("payment",)
    fields = (
        "gateway",
        "external_reference",
        "signature_valid",
        "outcome",
        "outcome_reason",
        "payment",
        "created_at",
        "processed_at",
        "remote_addr",
        "content_type",
        "headers_display",
        "body_display",
    )
    actions = ("replay_callbacks",)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("gateways.replay_callback")

    @admin.display(description="body")
    def body_display(self, callback: GatewayCallback) -> SafeString:
        # Whatever a sender put in the body is shown as text, never rendered as HTML.
        return format_html("<pre>{}</pre>", callback.body)

    @admin.display(description="headers")
    def headers_display(self, callback: GatewayCallback) -> SafeString:
        return format_html("<pre>{}</pre>", json.dumps(callback.headers, indent=2, sort_keys=True))

    @admin.action(description="Replay the selected callbacks", permissions=["replay"])
    def replay_callbacks(
        self, request: HttpRequest, queryset: QuerySet[GatewayCallback]
    ) -> TemplateResponse | None:
        callbacks = list(queryset.order_by("pk"))
        if request.POST.get("post") != "yes":
            return self._replay_confirmation(request, callbacks)
        actor = _staff_member(request)
        for callback in callbacks:
            result = callback_replay(callback_id=callback.pk, actor=actor)
            if not result.replayed:
                self.message_user(
                    request, f"Callback {callback.pk} was accepted already: not replayed."
                )
                continue
            after = result.callback
            text = f"Callback {after.pk}: was {result.previous_outcome}, now {after.outcome}"
            if after.outcome_reason:
                text += f" ({after.outcome_reason})"
            rejected = after.outcome == CallbackOutcome.REJECTED
            self.message_user(
                request, text + ".", messages.WARNING if rejected else messages.SUCCESS
            )
        return None

    def _replay_confirmation(
        self, request: HttpRequest, callbacks: list[GatewayCallback]
    ) -> TemplateResponse:
        accepted = [c for c in callbacks if c.outcome == CallbackOutcome.ACCEPTED]
        context = {
            **self.admin_site.each_context(request),
            "title": "Replay callbacks",
            "opts": self.model._meta,
            "intro": (
                "Process these callbacks again, exactly as when they arrived (signature and "
                "amount checks included)? A payment they already moved is not moved again."
            ),
            "rows": [_describe(c) for c in callbacks if c.outcome != CallbackOutcome.ACCEPTED],
            "skipped_intro": "Accepted already, so left alone:",
            "skipped": [_describe(c) for c in accepted],
            "selected": [c.pk for c in callbacks],
            "action": "replay_callbacks",
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "submit": "Yes, replay them",
        }
        return TemplateResponse(request, "admin/action_confirmation.html", context)


def _describe(callback: GatewayCallback) -> str:
    reference = callback.external_reference or "no reference"
    text = f"{callback.pk}: {callback.get_gateway_display()}, {reference}, {callback.outcome}"
    return f"{text} ({callback.outcome_reason})" if callback.outcome_reason else text


def _staff_member(request: HttpRequest) -> User:
    # The admin lets only signed-in staff this far; the check keeps the type honest.
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


@admin.register(GatewaySwitch)
class GatewaySwitchAdmin(admin.ModelAdmin[GatewaySwitch]):
    """Pausing a gateway: its payments wait in the pipeline until it is unpaused. Staff with
    `gateways.change_gatewayswitch` pause or unpause with the actions, saying why; a gateway
    never switched before is added here (paused or not). Every change goes through
    `gateway_set_paused`, which keeps who made it."""

    list_display = ("gateway", "paused", "reason", "changed_by", "changed_at")
    list_select_related = ("changed_by",)
    fields = ("gateway", "paused", "reason")
    actions = ("pause", "unpause")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_switch_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the actions change a switch, saying why

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_switch_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("gateways.change_gatewayswitch")

    def save_model(self, request: HttpRequest, obj: GatewaySwitch, form: Any, change: bool) -> None:
        switch = gateway_set_paused(
            gateway=obj.gateway, paused=obj.paused, by=_staff_member(request), reason=obj.reason
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
        actor = _staff_member(request)
        for switch in switches:
            after = gateway_set_paused(
                gateway=switch.gateway, paused=paused, by=actor, reason=form.cleaned_data["reason"]
            )
            self.log_change(request, after, f"{verb}d: {form.cleaned_data['reason']}")
            self.message_user(request, f"{after}.", messages.SUCCESS)
        return None


class SwitchReasonForm(forms.Form):
    reason = forms.CharField(max_length=255, help_text="Shown beside the switch.")
