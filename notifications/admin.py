from django.contrib import admin

from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin[Notification]):
    list_display = ("payment", "event", "channel", "recipient", "status", "attempts", "created_at")
    list_filter = ("status", "channel")
    list_select_related = ("payment",)
