"""Building blocks every app's models share."""

from decimal import Decimal
from typing import Any

from django.db import models

# One precision for every amount in the project: 12 digits before the point, 2 after. TWD is
# whole at ECPay; other currencies keep their cents. Rounding happens only at a gateway's edge.
MONEY_MAX_DIGITS = 14
MONEY_DECIMAL_PLACES = 2
ZERO = Decimal("0.00")
# One unit of the last place: every amount is quantized to it.
CENT = Decimal("0.01")


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


def currency_field() -> models.CharField:  # type: ignore[type-arg]
    return models.CharField(max_length=3, choices=Currency.choices, default=Currency.TWD)


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
