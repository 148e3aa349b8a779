"""Paying an order from the balance on the checkout page."""

from decimal import Decimal

import pytest

from orders.models import OrderStatus
from payments.models import LedgerEntryType, PaymentStatus
from payments.services import balance_credit
from tests.factories import OrderFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer_with(client):
    def signed_in_with_balance(amount: str):
        customer = UserFactory.create()
        if Decimal(amount):
            balance_credit(
                user_id=customer.pk,
                amount=Decimal(amount),
                currency="TWD",
                entry_type=LedgerEntryType.DEPOSIT,
            )
        client.force_login(customer)
        return customer

    return signed_in_with_balance


def test_the_checkout_offers_the_balance_only_when_it_covers_the_order(client, customer_with):
    rich = customer_with("1000")
    order = OrderFactory.create(user=rich)
    assert "from my balance" in client.get(f"/checkout/{order.number}/").content.decode()

    poor = customer_with("100")
    order = OrderFactory.create(user=poor)
    assert "from my balance" not in client.get(f"/checkout/{order.number}/").content.decode()


def test_paying_from_the_balance_pays_the_order(
    client, customer_with, django_capture_on_commit_callbacks, mailoutbox
):
    customer = customer_with("1000")
    order = OrderFactory.create(user=customer)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/checkout/{order.number}/pay-from-balance/")

    assert response.status_code == 302
    assert response["Location"] == f"/checkout/{order.number}/result/"
    order.refresh_from_db()
    customer.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.payments.get().status == PaymentStatus.COMPLETED
    assert customer.balance == Decimal("40")
    assert len(mailoutbox) == 1


def test_a_balance_too_low_is_refused_with_a_message_and_nothing_moves(client, customer_with):
    customer = customer_with("100")
    order = OrderFactory.create(user=customer)

    response = client.post(f"/checkout/{order.number}/pay-from-balance/")

    assert response.status_code == 400
    assert "does not cover" in response.content.decode()
    assert not order.payments.exists()
    customer.refresh_from_db()
    assert customer.balance == Decimal("100")


def test_another_customers_order_cannot_be_paid_from_my_balance(client, customer_with):
    customer_with("5000")
    someone_elses = OrderFactory.create()

    response = client.post(f"/checkout/{someone_elses.number}/pay-from-balance/")

    assert response.status_code == 404
    assert not someone_elses.payments.exists()
