"""Paying an order from the balance: the pipeline's process step debits instead of charging."""

from decimal import Decimal

import pytest

from orders.models import OrderStatus
from payments.exceptions import InsufficientBalance
from payments.models import LedgerEntry, LedgerEntryType, PaymentStatus
from payments.services import balance_withdraw, payment_start_from_balance
from payments.tasks import payment_notify, payment_process, payment_update, payment_validate
from tests.concurrency import run_at_once
from tests.factories import OrderFactory, UserFactory, fund


@pytest.mark.django_db
def test_an_order_paid_from_the_balance_is_debited_once_and_paid(customer, mailoutbox):
    fund(customer, "1000")
    order = OrderFactory.create(user=customer)

    payment = payment_start_from_balance(user=customer, order=order)
    payment_validate.delay(payment.pk)

    payment.refresh_from_db()
    customer.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert customer.balance == Decimal("40")
    debit = LedgerEntry.objects.get(payment=payment)
    assert (debit.entry_type, debit.amount) == (LedgerEntryType.ORDER_PAYMENT, Decimal("-960"))
    assert payment.gateway_reference == f"ledger-{debit.pk}"
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert (order.payment_header.method, order.payment_header.total_paid) == (
        "balance",
        Decimal("960"),
    )
    assert len(mailoutbox) == 1

    for step in (payment_validate, payment_process, payment_update, payment_notify):
        step.delay(payment.pk)
    customer.refresh_from_db()
    assert customer.balance == Decimal("40")
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_a_balance_too_low_is_refused_at_once(customer):
    fund(customer, "959")
    order = OrderFactory.create(user=customer)

    with pytest.raises(InsufficientBalance):
        payment_start_from_balance(user=customer, order=order)

    assert not order.payments.exists()


@pytest.mark.django_db
def test_a_balance_spent_in_the_meantime_fails_the_payment_and_moves_nothing(customer, mailoutbox):
    fund(customer, "1000")
    order = OrderFactory.create(user=customer)
    payment = payment_start_from_balance(user=customer, order=order)
    balance_withdraw(user=customer, amount=Decimal("500"), currency="TWD")

    payment_validate.delay(payment.pk)

    payment.refresh_from_db()
    customer.refresh_from_db()
    assert (payment.status, payment.failure_reason, payment.needs_review) == (
        PaymentStatus.FAILED,
        "insufficient balance",
        False,
    )
    assert customer.balance == Decimal("500")
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert len(mailoutbox) == 1


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_two_orders_racing_for_one_balance_pay_one_and_fail_the_other():
    customer = UserFactory.create()
    fund(customer, "1000")
    payments = iter(
        [
            payment_start_from_balance(user=customer, order=OrderFactory.create(user=customer))
            for _ in range(2)
        ]
    )

    run_at_once(lambda: payment_validate.delay(next(payments).pk), threads=2)

    customer.refresh_from_db()
    statuses = sorted(customer.payments.values_list("status", flat=True))
    assert statuses == [PaymentStatus.COMPLETED, PaymentStatus.FAILED]
    assert customer.balance == Decimal("40")
