"""Every write to notifications: one per payment event, channel and recipient, each sent once.

Sending is claim, send, record. A conditional UPDATE claims the row (pending, failed or stuck
→ sending), so of any number of concurrent senders exactly one sends; a row is also claimed by
its creation (inserted as sending: the unique constraint lets one creator win). The channel is
called outside any transaction or lock; a second UPDATE records sent or failed. A channel's
failure is recorded, logged and retried by the sweep, never raised into the payment pipeline.
"""

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from notifications.channels import CHANNELS, NotifiedPayment
from notifications.models import Notification, NotificationChannel, NotificationStatus

logger = logging.getLogger(__name__)

# The payment statuses a customer is told of: each has its templates (notifications/payment_*).
NOTIFIED_EVENTS = frozenset({"completed", "failed", "refunded", "credited"})
# A notification still `sending` after this long lost its worker mid-send: no channel call
# takes nearly this long (see the timeouts in `notifications.channels`).
STUCK_SENDING_AFTER = timedelta(minutes=10)
# The sweep gives up after this many tries (about an hour at its five-minute beat), so rows
# that can never be sent do not crowd out newer ones; they stay `failed` for staff to see.
MAX_ATTEMPTS = 12
_LAST_ERROR_MAX_CHARS = 500


@dataclass(frozen=True)
class RefundNotice:
    """The refund a `refunded` message tells of, as it was when the gateway made it: a payment
    refunded in parts has a message for each part, and a later refund must not change what an
    earlier message (or its retry) says."""

    # The refund's idempotency key: one message per refund.
    key: str
    amount: Decimal
    # All that is refunded of the payment, this refund included.
    refunded_amount: Decimal


def notify_payment_event(
    *, payment: NotifiedPayment, event: str, refund: RefundNotice | None = None
) -> list[Notification]:
    """Tell the customer (email) and the SNS topic, if one is set, that a payment `event` happened.

    `payment` is read with its user and order (`select_related("user", "order")`): the customer
    is the recipient, and the message names the order. A `refunded` event names its `refund`,
    and only it does.

    Writes one notification per channel and recipient, then sends each one not sent yet. Safe
    to call again for the same event: the unique constraint finds the rows already written and
    the claim in `notification_send` skips what is sent. Call it outside a transaction, so each
    claim commits before its channel is called. Raises only for a bad event or payment, never
    for a channel's failure.
    """
    if event not in NOTIFIED_EVENTS:
        raise ValueError(f"No notification for payment event {event!r}.")
    if (event == "refunded") != (refund is not None):
        raise ValueError("A refunded message, and only one, names its refund.")
    reference, details = "", {}
    if refund is not None:
        reference = refund.key
        details = {
            "refund_amount": str(refund.amount),
            "refunded_amount": str(refund.refunded_amount),
        }
    recipients = [(NotificationChannel.EMAIL, payment.user.email)]
    if settings.NOTIFICATIONS_SNS_TOPIC_ARN:
        recipients.append((NotificationChannel.SNS, settings.NOTIFICATIONS_SNS_TOPIC_ARN))
    sent = []
    for channel, recipient in recipients:
        notification, created = _notification_get_or_create(
            payment=payment,
            event=event,
            reference=reference,
            details=details,
            channel=channel,
            recipient=recipient,
        )
        if created:
            # Claimed by its creation: nobody else can have it, so it is sent as it stands.
            sent.append(_notification_deliver(notification, payment=payment))
        else:
            sent.append(notification_send(notification_id=notification.pk))
    return sent


def notifications_summary(notifications: list[Notification]) -> list[str]:
    """How sending went, for a payment's timeline: `channel:status` for each message."""
    return [f"{notification.channel}:{notification.status}" for notification in notifications]


def notification_send(*, notification_id: int) -> Notification:
    """Send one notification, unless it is sent already or another sender has claimed it.

    The claim is one conditional UPDATE: two concurrent callers cannot both win it. A channel
    error marks the row failed (with `last_error`) and is logged, not raised. Every claim counts
    as an attempt, so a message that kills its worker is not retried forever. The one case that
    can send twice: a worker that dies after the channel took the message but before the row
    says so; after `STUCK_SENDING_AFTER` the sweep sends it again.
    """
    claimed = _notification_set_status(
        notification_id=notification_id,
        to=NotificationStatus.SENDING,
        allowed_from=_claimable(now=timezone.now()),
        attempts=F("attempts") + 1,
    )
    notification = Notification.objects.select_related("payment__order").get(pk=notification_id)
    if not claimed:
        return notification
    return _notification_deliver(notification, payment=notification.payment)


def _notification_deliver(notification: Notification, *, payment: NotifiedPayment) -> Notification:
    """Call the channel for a notification this sender claimed, and record what happened."""
    send = CHANNELS[notification.channel]
    try:
        send(
            payment=payment,
            event=notification.event,
            details=notification.details,
            recipient=notification.recipient,
        )
    # Whatever a channel raises (network, AWS, SMTP, a template) is the channel failing: the
    # payment pipeline must go on, and the sweep tries again.
    except Exception as error:
        last_error = _error_text(error)
        logger.warning("Notification %s failed: %s", notification.pk, last_error)
        to = NotificationStatus.FAILED
        changes: dict[str, Any] = {"last_error": last_error}
    else:
        to = NotificationStatus.SENT
        changes = {"sent_at": timezone.now()}
    recorded = _notification_set_status(
        notification_id=notification.pk,
        to=to,
        allowed_from=Q(status=NotificationStatus.SENDING),
        copy=notification,
        **changes,
    )
    if not recorded:
        # Taken over meanwhile (the sweep thought this sender dead): read what it is now.
        notification.refresh_from_db()
    return notification


def notification_retry_failed(*, older_than_seconds: int = 60, limit: int = 100) -> int:
    """Send again, oldest first, notifications that failed at least `older_than_seconds` ago and
    ones stuck in `sending` (their worker died). Returns how many it tried.

    Rows that reached `MAX_ATTEMPTS` are left alone. Overlapping sweeps are harmless: each row
    is sent by whichever sweep claims it.
    """
    now = timezone.now()
    failed_long_enough = Q(
        status=NotificationStatus.FAILED,
        updated_at__lte=now - timedelta(seconds=older_than_seconds),
    )
    due = list(
        Notification.objects.filter(failed_long_enough | _stuck_sending(now=now))
        .filter(attempts__lt=MAX_ATTEMPTS)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for notification_id in due:
        notification_send(notification_id=notification_id)
    return len(due)


def _notification_get_or_create(
    *,
    payment: NotifiedPayment,
    event: str,
    reference: str,
    details: dict[str, str],
    channel: str,
    recipient: str,
) -> tuple[Notification, bool]:
    """The notification, and whether this call created it: then it is created claimed
    (sending, its first attempt counted), for this caller to send."""
    # The unique constraint decides a race between two creators, not a read before the write.
    # In a caller's transaction a savepoint keeps it usable after the IntegrityError; alone,
    # the INSERT needs no transaction of its own.
    in_transaction = transaction.get_connection().in_atomic_block
    try:
        with transaction.atomic() if in_transaction else contextlib.nullcontext():
            created = Notification.objects.create(
                payment_id=payment.pk,
                event=event,
                reference=reference,
                details=details,
                channel=channel,
                recipient=recipient,
                status=NotificationStatus.SENDING,
                attempts=1,
            )
            return created, True
    except IntegrityError:
        existing = Notification.objects.get(
            payment_id=payment.pk,
            event=event,
            reference=reference,
            channel=channel,
            recipient=recipient,
        )
        return existing, False


def _error_text(error: Exception) -> str:
    # The exception's type and message: boto3 and smtplib put the endpoint and the provider's
    # answer there, not credentials, and a message's content never reaches an exception.
    return f"{type(error).__name__}: {error}"[:_LAST_ERROR_MAX_CHARS]


def _stuck_sending(*, now: datetime) -> Q:
    return Q(status=NotificationStatus.SENDING, updated_at__lt=now - STUCK_SENDING_AFTER)


def _claimable(*, now: datetime) -> Q:
    return Q(status__in=[NotificationStatus.PENDING, NotificationStatus.FAILED]) | _stuck_sending(
        now=now
    )


def _notification_set_status(
    *,
    notification_id: int,
    to: str,
    allowed_from: Q,
    copy: Notification | None = None,
    **changes: Any,
) -> bool:
    """The only code that changes `Notification.status`: one conditional UPDATE.

    The row changes only if it still matches `allowed_from`, checked by the database in the
    same statement, so of concurrent callers at most one wins. Returns whether this one did;
    if it did, `copy` (the caller's instance of the row) is set to what was written, so it need
    not be read back. `updated_at` is set by hand: `update()` skips `auto_now`, and the stuck
    check reads it.
    """
    now = timezone.now()
    updated = Notification.objects.filter(allowed_from, pk=notification_id).update(
        status=to, updated_at=now, **changes
    )
    if updated == 1 and copy is not None:
        copy.status, copy.updated_at = to, now
        for field, value in changes.items():
            setattr(copy, field, value)
    return updated == 1
