"""Money for an order in a currency the customer's balance is not kept in (an order in USD or
THB, a balance in TWD): what the balance cannot take is flagged for a person to return at the
gateway, never lost, never a crash, and it never keeps the order from being paid another way."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.exceptions import IllegalTransition
from gateways.models import Gateway
from orders.models import OrderStatus, PaymentHeader
from orders.selectors import order_cost
from payments.ecpay.notifications import ecpay_paid
from payments.models import LedgerEntry, Payment, PaymentKind, PaymentMethod, PaymentStatus
from payments.selectors import payments_stranded
from payments.services import payment_cancel, payment_complete, payment_reprocess
from payments.tasks import payment_resume
from tests.factories import OrderFactory, PaymentFactory, StaffFactory
from tests.payments.test_api import card, order_payment
from tests.payments.test_wallet_callbacks import callback_body, post

pytestmark = pytest.mark.django_db

NOT_CREDITED = "not credited, another currency"


def flags(payment: Payment) -> list[dict]:
    return [event.data for event in payment.events.filter(type="flagged_for_review")]


@pytest.fixture
def settled(client, django_capture_on_commit_callbacks):
    """Post a wallet callback and run what it queues (settle → notify), as a worker would."""

    def settle(body: bytes) -> Payment:
        with django_capture_on_commit_callbacks(execute=True):
            response = post(client, body)
        assert response.status_code == 200, response.content
        return Payment.objects.get(gateway=Gateway.WALLET)

    return settle


@pytest.mark.parametrize("currency", ["USD", "THB"])
def test_an_overpaid_order_in_another_currency_is_paid_and_the_excess_flagged_to_be_returned(
    settled, currency, mailoutbox
):
    order = OrderFactory.create(currency=currency)
    due = order_cost(order).total

    payment = settled(callback_body(order, amount=str(due + Decimal("5"))))

    order.refresh_from_db()
    assert (payment.status, payment.failure_reason, order.status) == (
        PaymentStatus.COMPLETED,
        "",
        OrderStatus.PAID,
    )
    assert PaymentHeader.objects.get(order=order).total_paid == due
    assert payment.needs_review is True
    [flag] = flags(payment)
    assert flag == {
        "reason": f"overpaid: {NOT_CREDITED}",
        "paid": str(due + Decimal("5")),
        "due": str(due),
        "excess": "5.00",
        "currency": currency,
    }
    assert not LedgerEntry.objects.exists()
    order.user.refresh_from_db()
    assert order.user.balance == 0
    note = payment.events.get(type="process_paid_order").data["note"]
    assert note == "overpaid by 5.00: the rest to be returned (the balance is kept in TWD)"
    assert [message.subject.split(":")[0] for message in mailoutbox] == ["Payment received"]


def test_a_short_payment_in_another_currency_fails_lets_go_of_the_order_and_is_flagged_once(
    settled, mailoutbox
):
    order = OrderFactory.create(currency="USD")
    due = order_cost(order).total

    payment = settled(callback_body(order, amount=str(due - Decimal("1"))))

    assert (payment.status, payment.needs_review, payment.claimed_order_id) == (
        PaymentStatus.FAILED,
        True,
        None,
    )
    assert payment.failure_reason == (
        f"underpaid: {payment.amount} USD {NOT_CREDITED}: to be returned at the gateway"
    )
    [flag] = flags(payment)
    assert (flag["reason"], flag["difference"]) == (f"underpaid: {NOT_CREDITED}", "-1.00")
    assert not LedgerEntry.objects.exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert [message.subject.split(":")[0] for message in mailoutbox] == ["Payment failed"]


def test_the_stranded_payments_sweep_finds_nothing_to_do_for_it(
    settled, django_capture_on_commit_callbacks, mailoutbox
):
    order = OrderFactory.create(currency="USD")
    payment = settled(callback_body(order, amount=str(order_cost(order).total - 1)))
    events = payment.events.count()

    with django_capture_on_commit_callbacks(execute=True):
        payment_resume(payment.pk)

    payment.refresh_from_db()
    assert (payment.status, payment.claimed_order_id) == (PaymentStatus.FAILED, None)
    assert payment.events.count() == events
    assert len(flags(payment)) == 1
    assert len(mailoutbox) == 1
    Payment.objects.filter(pk=payment.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    assert not payments_stranded(older_than=timedelta(minutes=5)).filter(pk=payment.pk).exists()


def test_after_a_short_payment_in_another_currency_the_customer_can_pay_the_order_by_card(
    settled, api_client_for, no_pipeline, card_provider
):
    order = OrderFactory.create(currency="USD")
    settled(callback_body(order, amount=str(order_cost(order).total - 1)))

    response = api_client_for(order.user).post(
        "/api/v1/payments/", order_payment(order, card=card()), format="json"
    )

    assert response.status_code == 202, response.json()
    assert Payment.objects.get(claimed_order=order).gateway == Gateway.CARD


def test_money_that_could_not_be_credited_is_never_run_again_by_reprocessing(settled):
    order = OrderFactory.create(currency="USD")
    payment = settled(callback_body(order, amount=str(order_cost(order).total - 1)))

    with pytest.raises(IllegalTransition):
        payment_reprocess(payment_id=payment.pk, actor=StaffFactory.create())

    payment.refresh_from_db()
    assert (payment.status, payment.needs_review, payment.claimed_order_id) == (
        PaymentStatus.FAILED,
        True,
        None,
    )


def test_money_in_another_currency_for_an_order_another_payment_holds_fails_and_is_flagged(
    settled,
):
    order = OrderFactory.create(currency="USD")
    holder = PaymentFactory.create(
        user=order.user,
        kind=PaymentKind.ORDER,
        order=order,
        amount=order.total,
        currency="USD",
        status=PaymentStatus.PROCESSING,
    )

    payment = settled(callback_body(order, amount=str(order.total)))

    assert (payment.status, payment.needs_review) == (PaymentStatus.FAILED, True)
    assert [flag["reason"] for flag in flags(payment)] == [f"order_not_payable: {NOT_CREDITED}"]
    holder.refresh_from_db()
    assert holder.claimed_order_id == order.pk


def ecpay_payment(**fields: object) -> Payment:
    """An ECPay payment of a TWD order (ECPay takes nothing else) whose customer's balance is
    kept in USD: the only way ECPay's money meets a balance in another currency."""
    order = OrderFactory.create()
    User.objects.filter(pk=order.user.pk).update(balance_currency="USD")
    defaults = {
        "user": order.user,
        "kind": PaymentKind.ORDER,
        "order": order,
        "amount": order.total,
        "gateway": Gateway.ECPAY,
        "method": PaymentMethod.CARD,
        "merchant_trade_no": "T" + order.number,
    }
    return PaymentFactory.create(**{**defaults, **fields})


def test_ecpay_money_for_an_order_paid_otherwise_and_a_balance_in_usd_is_not_left_processing():
    payment = ecpay_payment(status=PaymentStatus.PROCESSING, gateway_reference="2501010000001")
    Payment.objects.filter(pk=payment.pk).update(claimed_order=None)
    payment.order.status = OrderStatus.PAID
    payment.order.save(update_fields=["status"])

    payment_complete(payment_id=payment.pk, gateway_reference="2501010000001")
    payment_resume(payment.pk)  # the sweep, later: the update step again

    payment.refresh_from_db()
    assert (payment.status, payment.needs_review) == (PaymentStatus.FAILED, True)
    assert [flag["reason"] for flag in flags(payment)] == [f"order_not_payable: {NOT_CREDITED}"]
    assert not LedgerEntry.objects.exists()


def test_ecpay_money_for_a_cancelled_payment_and_a_balance_in_another_currency_is_flagged():
    payment = ecpay_payment()
    payment_cancel(payment_id=payment.pk, actor=payment.user)

    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        ecpay_paid(locked, trade_no="2501010000002", source={"callback": 1})

    payment.refresh_from_db()
    assert (payment.status, payment.needs_review) == (PaymentStatus.CANCELLED, True)
    assert [flag["reason"] for flag in flags(payment)] == [f"paid_while_cancelled: {NOT_CREDITED}"]
    assert not LedgerEntry.objects.exists()
