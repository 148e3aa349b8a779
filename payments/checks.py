"""System checks of the payments app: limits that every money column can hold."""

from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from core.models import MONEY_MAX

# A limit may be at most this: money credited beyond a limit (a payment that arrived anyway, on
# top of a full balance) must still fit a money column, a thousand times over.
LIMIT_CEILING = (MONEY_MAX / 1000).to_integral_value(rounding=ROUND_FLOOR)  # 999999999

_LIMITS = ("PAYMENT_MAX_AMOUNT", "DEPOSIT_MAX_AMOUNT", "BALANCE_MAX_AMOUNT")


@register()
def amount_limits_in_range(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> Sequence[CheckMessage]:
    """Each amount limit is a positive amount in cents, at most LIMIT_CEILING."""
    errors: list[CheckMessage] = []
    for name in _LIMITS:
        value = getattr(settings, name)
        try:
            fits = Decimal(0) < value <= LIMIT_CEILING and value == value.quantize(Decimal("0.01"))
        except (TypeError, InvalidOperation):
            fits = False
        if not fits:
            errors.append(
                Error(
                    f"{name} is {value}: a limit is above 0, in cents, and at most "
                    f"{LIMIT_CEILING}.",
                    hint=f"Set {name} to an amount such as 1000000.",
                    id="payments.E001",
                )
            )
    return errors
