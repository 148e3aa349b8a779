from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from accounts.admin import ActionPermissions
from core.admin import ReadOnlyRecords
from notifications.models import Notification, NotificationStatus
from notifications.services import notification_send


@admin.register(Notification)
class NotificationAdmin(ActionPermissions, ReadOnlyRecords, admin.ModelAdmin[Notification]):
    """Each message and how sending it went. Rows change only through the notification
    services; staff with `notifications.resend_notification` may send failed ones again."""

    list_display = (
        "pk",
        "payment",
        "event",
        "channel",
        "recipient",
        "status",
        "attempts",
        "last_error",
        "created_at",
    )
    list_filter = ("status", "channel", "event")
    search_fields = ("recipient", "payment__public_id")
    list_select_related = ("payment",)
    fields = (
        "payment",
        "event",
        "reference",
        "details",
        "channel",
        "recipient",
        "status",
        "attempts",
        "last_error",
        "sent_at",
        "created_at",
        "updated_at",
    )
    actions = ("resend_notifications",)
    action_permissions = {"resend": "notifications.resend_notification"}

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return self.action_allowed(request, "resend")

    @admin.action(description="Resend the selected failed notifications", permissions=["resend"])
    def resend_notifications(
        self, request: HttpRequest, queryset: QuerySet[Notification]
    ) -> TemplateResponse | None:
        notifications = list(queryset.order_by("pk"))
        # Only failed messages go again: a sent one is never sent twice, and a pending or
        # sending one is in a sender's hands already.
        failed = [n for n in notifications if n.status == NotificationStatus.FAILED]
        if request.POST.get("post") != "yes":
            return self._resend_confirmation(request, notifications, failed)
        for notification in failed:
            # The send claims the row first: if a sweep has just taken it, this one sends nothing.
            after = notification_send(notification_id=notification.pk)
            if after.status == NotificationStatus.SENT:
                self.message_user(request, f"Notification {after.pk}: sent.", messages.SUCCESS)
            else:
                text = f"Notification {after.pk}: {after.status}"
                if after.status == NotificationStatus.FAILED:
                    text += f" again ({after.last_error})"
                self.message_user(request, text + ".", messages.WARNING)
        left = len(notifications) - len(failed)
        if left:
            self.message_user(request, f"{left} not failed, so not sent again.")
        return None

    def _resend_confirmation(
        self, request: HttpRequest, notifications: list[Notification], failed: list[Notification]
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Resend notifications",
            "opts": self.model._meta,
            "intro": "Send these failed notifications again?",
            "rows": [_describe(n) for n in failed],
            "skipped_intro": "Not failed, so not sent again:",
            "skipped": [_describe(n) for n in notifications if n not in failed],
            "selected": [n.pk for n in notifications],
            "action": "resend_notifications",
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "submit": "Yes, send them again",
        }
        return TemplateResponse(request, "admin/action_confirmation.html", context)


def _describe(notification: Notification) -> str:
    text = (
        f"{notification.pk}: {notification.event} by {notification.channel} to "
        f"{notification.recipient}, {notification.status} after {notification.attempts} attempt(s)"
    )
    return f"{text} ({notification.last_error})" if notification.last_error else text
