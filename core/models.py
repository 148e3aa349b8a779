"""Building blocks every app's models share."""

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

# One precision for every amount in the project: 12 digits before the point, 2 after. TWD is
# whole at ECPay; other currencies keep their cents. Rounding happens only at a gateway's edge.
MONEY_MAX_DIGITS = 14
MONEY_DECIMAL_PLACES = 2
ZERO = Decimal("0.00")
# One unit of the last place: every amount is quantized to it.
CENT = Decimal("0.01")
# The largest amount a money column holds. A larger one is an error on MariaDB and, on SQLite, a
# value stored that every later read of its row fails on: columns that add up (balances, order
# totals) say so in a check constraint, and services refuse amounts long before it.
MONEY_MAX = Decimal(10) ** (MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES) - CENT  # 999999999999.99


class Currency(models.TextChoices):
    TWD = "TWD", "New Taiwan dollar"
    THB = "THB", "Thai baht"
    USD = "USD", "US dollar"


class MoneyField(models.DecimalField):  # type: ignore[type-arg]
    """A DecimalField with the project's money precision. Pair it with a currency column."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", MONEY_MAX_DIGITS)
        kwargs.setdefault("decimal_places", MONEY_DECIMAL_PLACES)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        # Migrations stay short: the precision is the field's, not each column's.
        if kwargs.get("max_digits") == MONEY_MAX_DIGITS:
            del kwargs["max_digits"]
        if kwargs.get("decimal_places") == MONEY_DECIMAL_PLACES:
            del kwargs["decimal_places"]
        return name, path, args, kwargs


def currency_field(**kwargs: Any) -> models.CharField:  # type: ignore[type-arg]
    kwargs.setdefault("verbose_name", _("currency"))
    return models.CharField(max_length=3, choices=Currency.choices, default=Currency.TWD, **kwargs)


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        abstract = True


class IdempotencyKeyState(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"


class IdempotencyKey(models.Model):
    """One `Idempotency-Key` a user sent to the API, and the first answer it got.

    Keeps a fingerprint of the request, never its body (it may hold a card number). Written
    before the request is handled, so a concurrent copy finds it; see core/idempotency.py.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # As the client sent it, for people reading the row.
    key = models.CharField(max_length=255)
    # sha256 hex of `key`: MariaDB's utf8mb4_unicode_ci compares text case-insensitively and
    # ignores trailing spaces, so a unique index on the key itself would take "abc" and "ABC" for
    # one key there and for two on SQLite. Hex digits compare the same everywhere.
    key_digest = models.CharField(max_length=64)
    # sha256 hex of method, path and raw body.
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(
        max_length=16, choices=IdempotencyKeyState.choices, default=IdempotencyKeyState.IN_PROGRESS
    )
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The response's JSON as the client got it; null for a response without a body.
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "key_digest"], name="idempotency_key_unique_per_user"
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=IdempotencyKeyState.values),
                name="idempotency_key_state_known",
            ),
            # A completed key has the answer to replay; one in progress has none yet.
            models.CheckConstraint(
                condition=(
                    models.Q(
                        state=IdempotencyKeyState.COMPLETED,
                        response_status__isnull=False,
                        completed_at__isnull=False,
                    )
                    | models.Q(
                        state=IdempotencyKeyState.IN_PROGRESS,
                        response_status__isnull=True,
                        completed_at__isnull=True,
                    )
                ),
                name="idempotency_key_completed_has_response",
            ),
        ]
        indexes = [
            # The hourly purge of keys older than IDEMPOTENCY_KEY_TTL_SECONDS.
            models.Index(fields=["created_at"], name="idempotency_key_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"
