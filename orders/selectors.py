"""Reads of orders: who may see which, and what an order costs now."""

from collections.abc import Mapping
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
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


def orders_visible_to(*, user: User, filters: Mapping[str, Any]) -> QuerySet[Order]:
    """The orders `user` may list (their own; every one for staff), filtered.

    `filters` are validated values: status, created_after, created_before. The items come in one
    prefetch and the customer and payment header in the page's own query, so a page of any size
    takes the same number of queries.
    """
    orders = _orders_with_details()
    if not _sees_every_order(user):
        orders = orders.filter(user=user)
    for name, lookup in _ORDER_FILTERS.items():
        if filters.get(name) is not None:
            orders = orders.filter(**{lookup: filters[name]})
    return orders


def orders_of(*, customer: User) -> QuerySet[Order]:
    """A customer's orders, newest first (staff's page of the customer)."""
    return Order.objects.filter(user=customer).order_by("-created_at", "-pk")


_ORDER_FILTERS = {
    "status": "status",
    "created_after": "created_at__gte",
    "created_before": "created_at__lt",
}


def order_get_for_user(*, user: User, number: str) -> Order:
    """The order, with its items and payment header, if `user` may see it (its customer, or
    staff). Raises Order.DoesNotExist."""
    orders = _orders_with_details()
    if not _sees_every_order(user):
        orders = orders.filter(user=user)
    return orders.get(number=number)


def _sees_every_order(user: User) -> bool:
    # Staff with the view permission; being staff is not enough on its own.
    return user.is_staff and user.has_perm("orders.view_order")


def _orders_with_details() -> QuerySet[Order]:
    return Order.objects.select_related("user", "payment_header__payment").prefetch_related("items")
