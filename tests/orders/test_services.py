from decimal import Decimal

import pytest

from core.exceptions import IllegalTransition
from core.models import Currency
from orders.models import ORDER_TRANSITIONS, OrderEvent, OrderStatus
from orders.pricing import ItemLine
from orders.services import order_create, order_transition
from tests.factories import OrderFactory

TEA = ItemLine(sku="TEA", name="Tea", unit_price=Decimal("450"), quantity=2)


@pytest.mark.django_db
def test_order_create_prices_the_items_and_charges_shipping_below_the_threshold(customer):
    order = order_create(user=customer, items=[TEA], currency=Currency.TWD)

    assert (order.subtotal, order.shipping_fee, order.discount, order.total) == (
        Decimal("900"),
        Decimal("60"),
        Decimal("0"),
        Decimal("960"),
    )
    assert len(order.number) == 12
    assert order.number.isdigit()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert [item.sku for item in order.items.all()] == ["TEA"]
    assert OrderEvent.objects.filter(order=order, type="created").count() == 1


@pytest.mark.django_db
def test_shipping_is_free_from_the_threshold(customer):
    big = ItemLine(sku="POT", name="Teapot", unit_price=Decimal("1000"), quantity=1)

    order = order_create(user=customer, items=[big], currency=Currency.TWD)

    assert order.shipping_fee == Decimal("0")
    assert order.total == Decimal("1000")


@pytest.mark.django_db
def test_order_transition_records_the_move():
    order = OrderFactory.create()

    order_transition(order_id=order.pk, to=OrderStatus.PAID, event="paid")

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    event = OrderEvent.objects.get(order=order)
    assert (event.from_status, event.to_status) == ("pending_payment", "paid")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("from_status", "to_status"),
    [
        (f, t)
        for f in OrderStatus.values
        for t in OrderStatus.values
        if f != t and t not in ORDER_TRANSITIONS[f]
    ],
)
def test_illegal_order_move_is_refused_and_saves_nothing(from_status, to_status):
    order = OrderFactory.create(status=from_status)

    with pytest.raises(IllegalTransition):
        order_transition(order_id=order.pk, to=to_status, event="x")

    order.refresh_from_db()
    assert order.status == from_status
    assert not OrderEvent.objects.filter(order=order).exists()
