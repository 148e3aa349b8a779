"""Alerts to the staff who can act on them: an email to every active staff member allowed to
pause and unpause gateways (the managers, and superusers). For what nobody should have to find
in a dashboard first: a gateway's circuit breaker tripping, and closing again."""

import logging

from django.conf import settings
from django.core.mail import send_mail

from accounts.models import User

logger = logging.getLogger(__name__)

# Who is told: whoever may act on a gateway's switch.
ALERTED_PERMISSION = "gateways.change_gatewayswitch"


def staff_alert(*, subject: str, message: str) -> int:
    """Email `subject` and `message` to the staff who may switch gateways; returns to how many.

    Never raises: an alert that cannot be sent is logged (the caller's work is done already,
    and the log is the other place staff look).
    """
    recipients = sorted(
        User.objects.with_perm(
            ALERTED_PERMISSION,
            include_superusers=True,
            backend="django.contrib.auth.backends.ModelBackend",
        )
        .filter(is_active=True, is_staff=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        logger.warning("staff alert with nobody to tell: %s", subject)
        return 0
    try:
        send_mail(
            subject=f"[payments] {subject}",
            message=message,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
        )
    except Exception:
        logger.exception("staff alert not sent: %s", subject)
        return 0
    return len(recipients)
