from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.models import TimeStampedModel


class NotificationChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SNS = "sns", "Amazon SNS"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    # Claimed by one sender; only the sender that claimed it may send it.
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Notification(TimeStampedModel):
    """One message about a payment to one recipient on one channel.

    Unique per (payment, event, reference, channel, recipient): a retried or redelivered task
    finds the row it already wrote instead of sending a second message.
    """

    payment = models.ForeignKey(
        "payments.Payment",
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("payment"),
    )
    # The payment event the message is about: completed, failed, refunded, credited.
    event = models.CharField(max_length=32, verbose_name=_("event"))
    # Which one, for an event a payment can have more than once: a refund's key (each refund,
    # partial or the last, is a message of its own). Empty for the others.
    reference = models.CharField(max_length=64, blank=True, default="", verbose_name=_("reference"))
    # What the message says that the payment will not say later, as it was when the event
    # happened: a refund's amount and the total refunded with it. Money as strings.
    details = models.JSONField(default=dict, blank=True, verbose_name=_("details"))
    channel = models.CharField(
        max_length=8, choices=NotificationChannel.choices, verbose_name=_("channel")
    )
    # An email address or an SNS topic ARN.
    recipient = models.CharField(max_length=255, verbose_name=_("recipient"))
    status = models.CharField(
        max_length=8,
        choices=NotificationStatus.choices,
        default=NotificationStatus.PENDING,
        verbose_name=_("status"),
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        # Given to managers (accounts.roles), never implied by being staff.
        permissions = [("resend_notification", "Can resend notifications")]
        constraints = [
            models.UniqueConstraint(
                fields=["payment", "event", "reference", "channel", "recipient"],
                name="notification_once_per_event_and_recipient",
            ),
            models.CheckConstraint(
                condition=Q(status__in=NotificationStatus.values), name="notification_status_known"
            ),
        ]
        indexes = [
            # Retry sweeps and staff lists: failed or pending messages, oldest first.
            models.Index(fields=["status", "created_at"], name="notification_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient}: {self.event}"
