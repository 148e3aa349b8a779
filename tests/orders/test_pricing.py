"""What an order costs: items, the shipping rule, discount codes (the seeds' CalculateCost)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.exceptions import InvalidDiscountCode
from orders.models import DiscountCode
from orders.pricing import Discount, DiscountNotApplicable, ItemLine, calculate_cost
from orders.selectors import order_cost
from orders.services import order_create

TEA = ItemLine(sku="TEA", name="Tea", unit_price=Decimal("450"), quantity=2)


def test_a_percentage_comes_off_the_subtotal_rounded_to_whole_dollars_for_twd():
    cost = calculate_cost(items=[TEA], currency="TWD", discount=Discount(percent_off=Decimal("15")))

    assert (cost.subtotal, cost.discount, cost.shipping_fee, cost.total) == (
        Decimal("900"),
        Decimal("135"),
        Decimal("60"),
        Decimal("825"),
    )


def test_cents_are_kept_in_a_currency_that_has_them():
    lamp = ItemLine(sku="LAMP", name="Lamp", unit_price=Decimal("19.99"), quantity=1)

    cost = calculate_cost(
        items=[lamp], currency="USD", discount=Discount(percent_off=Decimal("10"))
    )

    assert cost.discount == Decimal("2.00")


def test_a_fixed_amount_never_takes_more_than_the_subtotal():
    cost = calculate_cost(
        items=[TEA], currency="TWD", discount=Discount(amount_off=Decimal("5000"))
    )

    assert cost.discount == Decimal("900")
    assert cost.total == Decimal("60")  # shipping is still paid


def test_a_discount_below_its_minimum_subtotal_does_not_apply():
    with pytest.raises(DiscountNotApplicable):
        calculate_cost(
            items=[TEA],
            currency="TWD",
            discount=Discount(amount_off=Decimal("100"), min_subtotal=Decimal("1000")),
        )


@pytest.mark.django_db
def test_an_order_with_a_code_is_priced_with_it_and_keeps_it(customer):
    DiscountCode.objects.create(code="TEA10", percent_off=Decimal("10"))

    order = order_create(user=customer, items=[TEA], currency="TWD", discount_code=" tea10 ")

    assert (order.discount_code, order.discount, order.total) == (
        "TEA10",
        Decimal("90"),
        Decimal("870"),
    )
    assert order_cost(order).total == order.total


@pytest.mark.django_db
@pytest.mark.parametrize(
    "code",
    [
        {
            "code": "OLD",
            "percent_off": Decimal("10"),
            "valid_until": timezone.now() - timedelta(days=1),
        },
        {"code": "OFF", "percent_off": Decimal("10"), "active": False},
        {"code": "USD5", "amount_off": Decimal("5"), "currency": "USD"},
        {"code": "BIG", "amount_off": Decimal("100"), "min_subtotal": Decimal("5000")},
    ],
    ids=["expired", "inactive", "another-currency", "below-minimum"],
)
def test_an_unusable_code_is_refused_naming_the_field_and_creates_nothing(customer, code):
    DiscountCode.objects.create(**code)

    with pytest.raises(InvalidDiscountCode) as refused:
        order_create(user=customer, items=[TEA], currency="TWD", discount_code=code["code"])

    assert "discount_code" in refused.value.fields
    assert not customer.orders.exists()


@pytest.mark.django_db
def test_an_unknown_code_is_refused(customer):
    with pytest.raises(InvalidDiscountCode):
        order_create(user=customer, items=[TEA], currency="TWD", discount_code="NOPE")


@pytest.mark.django_db
def test_re_pricing_honours_a_code_that_expired_after_the_order(customer):
    discount = DiscountCode.objects.create(code="TEA10", percent_off=Decimal("10"))
    order = order_create(user=customer, items=[TEA], currency="TWD", discount_code="TEA10")
    DiscountCode.objects.filter(pk=discount.pk).update(
        valid_until=timezone.now() - timedelta(days=1)
    )

    assert order_cost(order).total == Decimal("870")
