"""Fixtures of the payments tests."""

from decimal import Decimal

import pytest
from django.utils import timezone

from gateways.card.simulator import cards
from payments.models import Payment
from tests.factories import OrderFactory


@pytest.fixture
def pay(customer, api_client_for, django_capture_on_commit_callbacks, card_provider):
    """Pay through the API as `customer`; the pipeline runs to its end before this returns."""

    def pay(number: str = cards.APPROVE, order=None, amount: str | None = None) -> Payment:
        if order is None and amount is None:
            order = OrderFactory.create(user=customer)
        body = {
            "kind": "order" if order else "deposit",
            "amount": str(order.total) if order else amount,
            "currency": "TWD",
            "card": {
                "number": number,
                "exp_month": 1,
                "exp_year": timezone.localdate().year + 1,
                "cvc": "999",
            },
        }
        if order:
            body["order"] = order.number
        with django_capture_on_commit_callbacks(execute=True):
            response = api_client_for(customer).post("/api/v1/payments/", body, format="json")
        assert response.status_code == 202, response.json()
        return Payment.objects.get(public_id=response.json()["id"])

    return pay


@pytest.fixture
def payment_of_40000(pay, customer, settings) -> Payment:
    """A completed card payment of 40000 TWD, refunded with REFUND_APPROVAL_THRESHOLD at its
    default, 10000: the numbers of the split-refund finding."""
    settings.REFUND_APPROVAL_THRESHOLD = Decimal("10000")
    order = OrderFactory.create(
        user=customer,
        subtotal=Decimal("40000"),
        shipping_fee=Decimal("0"),
        total=Decimal("40000"),
        item__unit_price=Decimal("20000"),
    )
    payment: Payment = pay(cards.APPROVE, order=order)
    return payment
