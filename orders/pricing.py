"""What an order costs: items, the shipping rule, discounts (the seeds' CalculateCost).

Pure functions over plain values, so the same rules price a new order and re-check a paid one.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from core.models import CENT, ZERO, Currency


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
class Discount:
    """A discount code's terms: a share of the subtotal, or a fixed amount, from a minimum."""

    percent_off: Decimal | None = None
    amount_off: Decimal | None = None
    min_subtotal: Decimal = ZERO


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


# The smallest amount a price is rounded to: TWD is paid in whole dollars (ECPay takes no cents).
PRICE_STEP: dict[str, Decimal] = {
    Currency.TWD: Decimal("1"),
    Currency.THB: Decimal("0.01"),
    Currency.USD: Decimal("0.01"),
}


def calculate_cost(
    *, items: Sequence[ItemLine], currency: str, discount: Discount | None = None
) -> Cost:
    """Subtotal of the items; shipping by the currency's rule (on the subtotal before any
    discount); the discount off the subtotal, never more than it, rounded to the currency's
    step. Raises ValueError for no items, and `DiscountNotApplicable` below its minimum."""
    if not items:
        raise ValueError("An order needs at least one item.")
    subtotal = sum((item.unit_price * item.quantity for item in items), ZERO)
    rule = SHIPPING_RULES[currency]
    shipping_fee = ZERO if subtotal >= rule.free_from else rule.fee
    return Cost(
        subtotal=subtotal,
        shipping_fee=shipping_fee,
        discount=_discount_amount(discount, subtotal=subtotal, currency=currency),
    )


class DiscountNotApplicable(ValueError):
    """The order does not reach the discount's minimum subtotal."""


def _discount_amount(discount: Discount | None, *, subtotal: Decimal, currency: str) -> Decimal:
    if discount is None:
        return ZERO
    if subtotal < discount.min_subtotal:
        raise DiscountNotApplicable(f"The discount needs a subtotal of {discount.min_subtotal}.")
    if discount.percent_off is not None:
        amount = subtotal * discount.percent_off / Decimal("100")
    else:
        amount = discount.amount_off or ZERO
    rounded = amount.quantize(PRICE_STEP[currency], rounding=ROUND_HALF_UP)
    # Whatever the step, an amount carries the project's two places (90.00, not 90).
    return min(rounded, subtotal).quantize(CENT)
