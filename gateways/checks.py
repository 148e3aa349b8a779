"""System checks of the gateways: settings each gateway takes only within its own range.

An ECPay code validity out of its range is refused by ECPay for every ATM or store payment,
which the shop would only learn from a customer: `manage.py check` refuses it at start-up.
"""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from gateways.ecpay import CODE_VALIDITY

# ECPay's longest barcode delay is about two days; a month is no delay but a mistake.
BARCODE_RESULT_DELAY_MAX_HOURS = 24 * 30


@register()
def ecpay_code_validity_in_range(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> Sequence[CheckMessage]:
    """Each ECPay code validity is a whole number within ECPay's range for its method."""
    errors: list[CheckMessage] = []
    for method, validity in CODE_VALIDITY.items():
        value = getattr(settings, validity.setting)
        if type(value) is not int or not validity.low <= value <= validity.high:
            errors.append(
                Error(
                    f"{validity.setting} is {value!r}: ECPay takes {method.value} "
                    f"{validity.field} in {validity.unit}, {validity.low} to {validity.high}.",
                    hint=f"Set {validity.setting} within {validity.low}-{validity.high}.",
                    id="gateways.E001",
                )
            )
    delay = settings.ECPAY_BARCODE_RESULT_DELAY_HOURS
    if type(delay) is not int or not 0 <= delay <= BARCODE_RESULT_DELAY_MAX_HOURS:
        errors.append(
            Error(
                f"ECPAY_BARCODE_RESULT_DELAY_HOURS is {delay!r}: hours, 0 to "
                f"{BARCODE_RESULT_DELAY_MAX_HOURS}.",
                hint="ECPay reports barcode payments about two days late: 72 leaves a margin.",
                id="gateways.E002",
            )
        )
    reask = settings.ECPAY_RECONCILE_REASK_MINUTES
    if type(reask) is not int or reask < 1:
        errors.append(
            Error(
                f"ECPAY_RECONCILE_REASK_MINUTES is {reask!r}: a whole number of minutes, at "
                "least 1.",
                hint="ECPay answers 403 to a merchant that asks too often: 30 is safe.",
                id="gateways.E003",
            )
        )
    return errors
