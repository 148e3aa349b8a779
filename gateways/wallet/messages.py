"""The callback's JSON body, parsed into a `WalletCallback` or refused with the field at fault."""

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

# Our columns' sizes: an order number (12 digits) and a gateway reference.
_ORDER_NUMBER_MAX = 12
_PAYMENT_ID_MAX = 64
_AMOUNT_MAX = Decimal("999999999999.99")  # MoneyField: 14 digits, 2 decimals
_DIGITS = re.compile(r"\d+(\.\d{1,2})?")
_CENT = Decimal("0.01")


class MalformedCallback(Exception):
    """The body is not a callback we understand; `field` says which part."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class WalletCallback:
    order_number: str
    success: bool
    gateway_payment_id: str
    amount: Decimal


def parse_callback(body: bytes) -> WalletCallback:
    """Parse a callback body. Accepts `orderId`/`order_id` and `paymentId`/`payment_id`."""
    try:
        # parse_float: 300.1 stays exactly 300.1, never a binary float.
        data = json.loads(body, parse_float=Decimal)
    # RecursionError: arrays or objects nested deeper than the parser goes.
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedCallback("body", "Not valid JSON.") from None
    if not isinstance(data, dict):
        raise MalformedCallback("body", "Expected a JSON object.")
    success = data.get("success")
    if not isinstance(success, bool):
        raise MalformedCallback("success", "Must be true or false.")
    return WalletCallback(
        order_number=_text(data, "orderId", "order_id", max_length=_ORDER_NUMBER_MAX),
        success=success,
        gateway_payment_id=_text(data, "paymentId", "payment_id", max_length=_PAYMENT_ID_MAX),
        amount=_amount(data.get("amount")),
    )


def _text(data: dict[str, Any], name: str, alias: str, *, max_length: int) -> str:
    value = data.get(name, data.get(alias))
    if not isinstance(value, str) or not value.strip():
        raise MalformedCallback(name, "Required, a non-empty string.")
    if len(value) > max_length:
        raise MalformedCallback(name, f"At most {max_length} characters.")
    return value.strip()


def _amount(value: object) -> Decimal:
    # JSON true is an int to Python: a boolean is never an amount.
    is_integer = isinstance(value, int) and not isinstance(value, bool)
    if is_integer or (isinstance(value, str) and _DIGITS.fullmatch(value)):
        value = Decimal(str(value))
    if not isinstance(value, Decimal) or not value.is_finite():
        raise MalformedCallback("amount", "Must be a number.")
    try:
        exact = value == value.quantize(_CENT)
    except InvalidOperation:
        exact = False
    if not exact:
        raise MalformedCallback("amount", "At most 2 decimal places.")
    if value <= 0:
        raise MalformedCallback("amount", "Must be greater than zero.")
    if value > _AMOUNT_MAX:
        raise MalformedCallback("amount", f"At most {_AMOUNT_MAX}.")
    return value
