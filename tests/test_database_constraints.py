"""Invariants the database itself enforces, whatever code (or person with a SQL prompt) writes.

Each case writes around the services on purpose. The real-stack tier runs these on MariaDB.
"""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from notifications.models import Notification
from orders.models import Order, PaymentHeader
from payments.models import LedgerEntry, Payment
from tests.factories import OrderFactory, PaymentFactory, UserFactory


def refused_by_database(write) -> bool:
    try:
        with transaction.atomic():
            write()
    except IntegrityError:
        return True
    return False


@pytest.mark.django_db
def test_a_negative_balance_is_refused():
    user = UserFactory.create()
    assert refused_by_database(lambda: User.objects.filter(pk=user.pk).update(balance=-1))
    user.refresh_from_db()
    assert user.balance == 0


@pytest.mark.django_db
def test_a_duplicate_gateway_reference_is_refused_but_another_gateway_may_reuse_it():
    PaymentFactory.create(gateway="card", gateway_reference="ref-1")
    assert refused_by_database(
        lambda: PaymentFactory.create(gateway="card", gateway_reference="ref-1")
    )
    assert not refused_by_database(
        lambda: PaymentFactory.create(gateway="wallet", gateway_reference="ref-1")
    )


@pytest.mark.django_db
def test_payments_without_references_do_not_collide():
    PaymentFactory.create(gateway_reference=None, merchant_trade_no=None)
    assert not refused_by_database(
        lambda: PaymentFactory.create(gateway_reference=None, merchant_trade_no=None)
    )


@pytest.mark.django_db
def test_a_merchant_trade_no_is_never_reused():
    PaymentFactory.create(gateway="ecpay", merchant_trade_no="TN20261122000001")
    assert refused_by_database(
        lambda: PaymentFactory.create(gateway="ecpay", merchant_trade_no="TN20261122000001")
    )


@pytest.mark.django_db
def test_an_idempotency_key_is_unique_per_user():
    user = UserFactory.create()
    PaymentFactory.create(user=user, idempotency_key="k")
    assert refused_by_database(lambda: PaymentFactory.create(user=user, idempotency_key="k"))


@pytest.mark.django_db
@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-5")])
def test_a_payment_amount_must_be_positive(amount):
    assert refused_by_database(lambda: PaymentFactory.create(amount=amount))


@pytest.mark.django_db
def test_refunds_cannot_exceed_the_amount():
    payment = PaymentFactory.create(amount=Decimal("100"))
    assert refused_by_database(
        lambda: Payment.objects.filter(pk=payment.pk).update(refunded_amount=Decimal("100.01"))
    )


@pytest.mark.django_db
def test_an_unknown_status_is_refused():
    payment = PaymentFactory.create()
    assert refused_by_database(lambda: Payment.objects.filter(pk=payment.pk).update(status="paid"))


@pytest.mark.django_db
def test_an_order_payment_needs_an_order_and_a_deposit_has_none():
    assert refused_by_database(lambda: PaymentFactory.create(kind="order", order=None))
    assert refused_by_database(
        lambda: PaymentFactory.create(kind="deposit", order=OrderFactory.create())
    )


@pytest.mark.django_db
def test_an_order_total_must_add_up():
    assert refused_by_database(
        lambda: OrderFactory.create(
            subtotal=Decimal("100"), shipping_fee=0, discount=0, total=Decimal("90")
        )
    )


@pytest.mark.django_db
def test_order_numbers_are_unique():
    OrderFactory.create(number="492500005643")
    assert refused_by_database(lambda: OrderFactory.create(number="492500005643"))


@pytest.mark.django_db
def test_an_order_has_at_most_one_payment_header():
    order = OrderFactory.create()
    first = PaymentFactory.create(kind="order", order=order, user=order.user)
    second = PaymentFactory.create(kind="order", order=order, user=order.user)

    def header(payment):
        return PaymentHeader.objects.create(
            order=order,
            payment=payment,
            gateway="card",
            method="card",
            is_paid=True,
            total_paid=order.total,
            paid_at=timezone.now(),
        )

    header(first)
    assert refused_by_database(lambda: header(second))
    assert Order.objects.get(pk=order.pk).payment_header.payment_id == first.pk


@pytest.mark.django_db
def test_ledger_entries_keep_sign_and_balance_rules():
    user = UserFactory.create()

    def entry(entry_type, amount, balance_after):
        return LedgerEntry.objects.create(
            user=user, entry_type=entry_type, amount=amount, balance_after=balance_after
        )

    assert refused_by_database(lambda: entry("deposit", Decimal("-1"), Decimal("0")))
    assert refused_by_database(lambda: entry("withdrawal", Decimal("1"), Decimal("1")))
    assert refused_by_database(lambda: entry("withdrawal", Decimal("-1"), Decimal("-1")))


@pytest.mark.django_db
def test_a_ledger_entry_type_is_posted_once_per_payment():
    payment = PaymentFactory.create()

    def deposit_entry():
        return LedgerEntry.objects.create(
            user=payment.user,
            payment=payment,
            entry_type="deposit",
            amount=Decimal("1"),
            balance_after=Decimal("1"),
        )

    deposit_entry()
    assert refused_by_database(deposit_entry)


@pytest.mark.django_db
def test_a_notification_is_unique_per_payment_event_channel_and_recipient():
    payment = PaymentFactory.create()

    def notification():
        return Notification.objects.create(
            payment=payment, event="completed", channel="email", recipient="a@example.com"
        )

    notification()
    assert refused_by_database(notification)
