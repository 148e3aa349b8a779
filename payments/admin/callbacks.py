"""Gateway callbacks as they arrived (evidence, read-only), and replaying one through the same
code as when it arrived."""

import json

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.admin import ActionPermissions, staff_member
from core.admin import ReadOnlyRecords
from gateways.models import CallbackOutcome, GatewayCallback
from payments.callbacks.replay import callback_replay


@admin.register(GatewayCallback)
class GatewayCallbackAdmin(ActionPermissions, ReadOnlyRecords, admin.ModelAdmin[GatewayCallback]):
    """Every callback as it arrived: evidence, so nobody adds, edits or deletes one. Staff with
    `gateways.replay_callback` may process one again (the "replay" action)."""

    # What became of it first; the references and the reason follow, cut short.
    list_display = (
        "pk",
        "gateway",
        "outcome",
        "signature_valid",
        "external_reference",
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
    action_permissions = {"replay": "gateways.replay_callback"}

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return self.action_allowed(request, "replay")

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
        actor = staff_member(request)
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
