"""Reads of users."""

from datetime import datetime

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone


def sign_in_attempts_of(*, email: str) -> QuerySet[AccessAttempt]:
    """The failed sign-ins django-axes holds for this email, from each address, newest first.
    A lift (a manager deleting one) removes it."""
    attempts: QuerySet[AccessAttempt] = AccessAttempt.objects.filter(
        username__iexact=email
    ).order_by("-attempt_time")
    return attempts


def is_locked_out(attempt: AccessAttempt, *, now: datetime | None = None) -> bool:
    """Whether this address is refused for this account now (LOGIN_FAILURE_LIMIT reached within
    LOGIN_LOCKOUT_MINUTES)."""
    now = now or timezone.now()
    return bool(
        attempt.failures_since_start >= settings.AXES_FAILURE_LIMIT
        and attempt.attempt_time > now - settings.AXES_COOLOFF_TIME
    )
