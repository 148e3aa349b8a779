"""Seed 003's ProcessPaidWalletOrderInternal (issue 22, 5): a wallet's result re-prices the
order, saves the re-priced order with its payment header, writes a header with isPaid false for
an attempt that paid nothing (never over a paid one), and logs every attempt, `is_error` when it
paid nothing (the seed's ProcessPaidOrderTable: the payment's `process_paid_order` events)."""

from decimal import Decimal

import pytest

from orders.models import DiscountCode, OrderStatus, PaymentHeader
from orders.pricing import ItemLine
from orders.services import order_create
from payments.models import Payment, PaymentStatus
from payments.selectors import ledger_mismatches
from tests.payments.test_wallet_callbacks import callback_body, post

pytestmark = pytest.mark.django_db

TEA = ItemLine(sku="TEA", name="Tea", unit_price=Decimal("450"), quantity=2)


@pytest.fixture
def applied(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def order(customer):
    return order_create(user=customer, items=[TEA], currency="TWD")


def test_a_failed_attempt_writes_a_header_with_is_paid_false_and_logs_is_error(
    client, order, applied
):
    with applied():
        post(client, callback_body(order, success=False, paymentId="W-FAIL"))

    payment = Payment.objects.get()
    header = PaymentHeader.objects.get(order=order)
    assert (header.is_paid, header.total_paid, header.paid_at) == (False, Decimal("0"), None)
    assert (header.payment_id, header.gateway, header.gateway_payment_id) == (
        payment.pk,
        "wallet",
        "W-FAIL",
    )
    logged = payment.events.get(type="process_paid_order")
    assert logged.is_error is True
    assert logged.data["success"] is False
    assert (logged.data["total"], logged.data["failure"]) == ("960.00", "wallet reported failure")
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.events.filter(type="payment_attempt_failed").count() == 1


def test_a_paid_attempt_after_a_failed_one_writes_over_its_unpaid_header(client, order, applied):
    with applied():
        post(client, callback_body(order, success=False, paymentId="W-1"))
    with applied():
        post(client, callback_body(order, paymentId="W-2"))

    failed, paid = Payment.objects.order_by("pk")
    assert (failed.status, paid.status) == (PaymentStatus.FAILED, PaymentStatus.COMPLETED)
    header = PaymentHeader.objects.get(order=order)
    assert (header.is_paid, header.payment_id, header.total_paid) == (True, paid.pk, order.total)
    assert header.gateway_payment_id == "W-2"
    assert paid.events.get(type="process_paid_order").is_error is False


def test_a_failed_attempt_never_writes_over_a_paid_header(client, order, applied):
    with applied():
        post(client, callback_body(order, paymentId="W-1"))
    header = PaymentHeader.objects.get(order=order)

    with applied():
        post(client, callback_body(order, success=False, paymentId="W-2"))

    assert PaymentHeader.objects.get(order=order) == header
    header.refresh_from_db()
    assert (header.is_paid, header.gateway_payment_id) == (True, "W-1")
    later = Payment.objects.order_by("pk").last()
    assert later is not None
    assert later.events.get(type="process_paid_order").is_error is True


def test_the_re_priced_order_is_saved_with_its_header(client, customer, applied):
    DiscountCode.objects.create(code="TEA10", percent_off=Decimal("10"))
    order = order_create(user=customer, items=[TEA], currency="TWD", discount_code="TEA10")
    assert (order.discount, order.total) == (Decimal("90"), Decimal("870"))
    # The promotion grew while the customer was paying: the wallet charged the new total.
    DiscountCode.objects.filter(code="TEA10").update(percent_off=Decimal("20"))

    with applied():
        post(client, callback_body(order, amount="780"))

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert (order.subtotal, order.shipping_fee, order.discount, order.total) == (
        Decimal("900"),
        Decimal("60"),
        Decimal("180"),
        Decimal("780"),
    )
    header = PaymentHeader.objects.get(order=order)
    assert (header.is_paid, header.total_paid) == (True, Decimal("780"))
    repriced = order.events.get(type="repriced")
    assert repriced.data["before"]["total"] == "870.00"
    assert repriced.data["after"] == {
        "subtotal": "900.00",
        "shipping_fee": "60.00",
        "discount": "180.00",
        "total": "780.00",
    }
    payment = Payment.objects.get()
    assert payment.needs_review is False
    assert ledger_mismatches() == []


def test_an_order_priced_as_before_is_not_repriced(client, order, applied):
    with applied():
        post(client, callback_body(order))

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert not order.events.filter(type="repriced").exists()
