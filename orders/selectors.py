"""Reads of orders: what an order costs now."""

from django.db.models import Q
from django.utils import timezone

from orders.models import DiscountCode, Order
from orders.pricing import Cost, Discount, ItemLine, calculate_cost


def discount_code_terms(*, code: str, currency: str, for_new_order: bool) -> Discount | None:
    """The terms of an active discount code in `currency`, or None if there is no such code.

    A new order may only use a code that has not expired; re-pricing an existing order honours
    the code the customer was given, even after its date.
    """
    codes = DiscountCode.objects.filter(code=code.strip().upper(), currency=currency, active=True)
    if for_new_order:
        codes = codes.filter(Q(valid_until__isnull=True) | Q(valid_until__gt=timezone.now()))
    found = codes.first()
    if found is None:
        return None
    return Discount(
        percent_off=found.percent_off, amount_off=found.amount_off, min_subtotal=found.min_subtotal
    )


def order_cost(order: Order) -> Cost:
    """What `order` costs now, from its items and its discount code (the seeds' CalculateCost)."""
    items = [
        ItemLine(sku=item.sku, name=item.name, unit_price=item.unit_price, quantity=item.quantity)
        for item in order.items.all()
    ]
    discount = (
        discount_code_terms(code=order.discount_code, currency=order.currency, for_new_order=False)
        if order.discount_code
        else None
    )
    return calculate_cost(items=items, currency=order.currency, discount=discount)
