"""What an order costs: items, the shipping rule, discounts (the seeds' CalculateCost).

Pure functions over plain values, so the same rules price a new order and re-check a paid one.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.models import ZERO, Currency


@dataclass(frozen=True)
class ItemLine:
    sku: str
    name: str
    unit_price: Decimal
    quantity: int


@dataclass(frozen=True)
class ShippingRule:
    fee: Decimal
    free_from: Decimal  # subtotal at or above which shipping is free


@dataclass(frozen=True)
class Cost:
    subtotal: Decimal
    shipping_fee: Decimal
    discount: Decimal

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.shipping_fee - self.discount


SHIPPING_RULES: dict[str, ShippingRule] = {
    Currency.TWD: ShippingRule(fee=Decimal("60"), free_from=Decimal("1000")),
    Currency.THB: ShippingRule(fee=Decimal("50"), free_from=Decimal("1000")),
    Currency.USD: ShippingRule(fee=Decimal("5"), free_from=Decimal("50")),
}


def calculate_cost(*, items: Sequence[ItemLine], currency: str) -> Cost:
    if not items:
        raise ValueError("An order needs at least one item.")
    subtotal = sum((item.unit_price * item.quantity for item in items), ZERO)
    rule = SHIPPING_RULES[currency]
    shipping_fee = ZERO if subtotal >= rule.free_from else rule.fee
    return Cost(subtotal=subtotal, shipping_fee=shipping_fee, discount=ZERO)
