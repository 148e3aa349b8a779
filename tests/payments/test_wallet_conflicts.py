"""A wallet's or bank app's later callback that contradicts what it first reported about one of
its payments (paid after failed, another amount): recorded, flagged with both reports, and money
reported paid for a payment recorded as failed is credited, never kept silently."""

from decimal import Decimal

import pytest
from django.test import Client

from gateways.models import CallbackOutcome, GatewayCallback
from orders.models import OrderStatus
from payments.models import LedgerEntry, Payment, PaymentStatus
from payments.selectors import ledger_mismatches
from payments.tasks import payment_wallet_settle
from tests.concurrency import run_at_once
from tests.factories import OrderFactory
from tests.payments.test_wallet_callbacks import WALLET, callback_body, headers_for, post

COPIES = 10


@pytest.fixture
def order(db):
    return OrderFactory.create()


@pytest.fixture
def applied(django_capture_on_commit_callbacks):
    """Run what a callback queues (settle → notify) as a worker would, right away."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def last_callback() -> GatewayCallback:
    callback = GatewayCallback.objects.order_by("pk").last()
    assert callback is not None
    return callback


def flags(payment: Payment) -> list[dict]:
    return [event.data for event in payment.events.filter(type="flagged_for_review")]


def test_money_reported_paid_after_the_wallet_reported_failure_is_credited_and_flagged(
    client, order, applied, mailoutbox
):
    with applied():
        assert post(client, callback_body(order, success=False)).json() == {"status": "accepted"}
    with applied():
        answer = post(client, callback_body(order, success=True, amount="960.00")).json()

    assert answer == {"status": "accepted"}
    payment = Payment.objects.get()
    assert (payment.status, payment.needs_review, payment.claimed_order_id) == (
        PaymentStatus.CREDITED,
        True,
        None,
    )
    [flag] = flags(payment)
    assert flag["reason"] == "paid_after_reported_failure"
    assert (flag["first"], flag["reported"]) == (
        {"success": False, "amount": "960.00"},
        {"success": True, "amount": "960.00"},
    )
    callback = last_callback()
    assert (callback.outcome, callback.payment_id) == (CallbackOutcome.ACCEPTED, payment.pk)
    assert "credited to the balance" in callback.outcome_reason
    order.user.refresh_from_db()
    assert order.user.balance == Decimal("960.00")
    assert ledger_mismatches() == []
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert [message.subject.split(":")[0] for message in mailoutbox] == [
        "Payment failed",
        "Payment credited to your balance",
    ]


def test_a_paid_report_for_another_amount_than_the_one_paid_is_flagged_with_both_amounts(
    client, order, applied
):
    with applied():
        post(client, callback_body(order, amount="960.00"))
    with applied():
        answer = post(client, callback_body(order, amount="1960.00")).json()

    assert answer == {"status": "duplicate"}
    payment = Payment.objects.get()
    assert (payment.status, payment.amount, payment.needs_review) == (
        PaymentStatus.COMPLETED,
        Decimal("960.00"),
        True,
    )
    [flag] = flags(payment)
    assert flag["reason"] == "conflicting_report"
    assert (flag["first"], flag["reported"]) == (
        {"success": True, "amount": "960.00"},
        {"success": True, "amount": "1960.00"},
    )
    callback = last_callback()
    assert (callback.outcome, callback.payment_id) == (CallbackOutcome.DUPLICATE, payment.pk)
    assert callback.outcome_reason.startswith("contradicts the first report")
    order.user.refresh_from_db()
    assert order.user.balance == 0  # which amount moved is a person's to find out


def test_a_failure_reported_after_the_payment_was_reported_paid_never_undoes_it_and_is_flagged(
    client, order, applied
):
    with applied():
        post(client, callback_body(order))
    with applied():
        post(client, callback_body(order, success=False))

    payment = Payment.objects.get()
    assert (payment.status, payment.needs_review) == (PaymentStatus.COMPLETED, True)
    assert [flag["reason"] for flag in flags(payment)] == ["conflicting_report"]
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert last_callback().outcome == CallbackOutcome.DUPLICATE


def test_a_paid_report_for_another_amount_after_a_failed_one_is_flagged_not_credited(
    client, order, applied
):
    with applied():
        post(client, callback_body(order, success=False, amount="960.00"))
    with applied():
        post(client, callback_body(order, success=True, amount="1960.00"))

    payment = Payment.objects.get()
    assert (payment.status, payment.needs_review) == (PaymentStatus.FAILED, True)
    [flag] = flags(payment)
    assert flag["reason"] == "conflicting_report"
    assert flag["reported"] == {"success": True, "amount": "1960.00"}
    assert not LedgerEntry.objects.exists()
    assert last_callback().outcome == CallbackOutcome.DUPLICATE


@pytest.mark.parametrize(
    ("first", "later", "again"),
    [
        ({"success": False}, {"success": True}, {"success": True}),
        ({"success": True}, {"amount": "1960.00"}, {"amount": "1960.00"}),
        # The same amount, written another way.
        ({"success": True}, {"amount": "1960.00"}, {"amount": 1960}),
    ],
    ids=["paid-after-failed", "another-amount", "another-amount-written-otherwise"],
)
def test_a_contradicting_report_delivered_again_is_a_plain_duplicate_flagged_once(
    client, order, applied, first, later, again
):
    with applied():
        post(client, callback_body(order, **first))
    with applied():
        post(client, callback_body(order, **later))
    payment = Payment.objects.get()
    events = payment.events.count()

    with applied():
        answer = post(client, callback_body(order, **again)).json()

    assert answer == {"status": "duplicate"}
    assert payment.events.count() == events
    assert len(flags(payment)) == 1
    callback = last_callback()
    assert (callback.outcome, callback.outcome_reason) == (CallbackOutcome.DUPLICATE, "")


def test_money_reported_paid_before_the_reported_failure_was_settled_is_credited_once(
    client, order, applied
):
    post(client, callback_body(order, success=False))  # its settling is still queued
    with applied():
        post(client, callback_body(order, success=True))
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.CREDITED

    payment_wallet_settle(payment.pk, False)  # the first report's settling, running late

    payment.refresh_from_db()
    assert (payment.status, payment.failure_reason) == (PaymentStatus.CREDITED, "")
    order.user.refresh_from_db()
    assert order.user.balance == Decimal("960.00")


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_copies_of_a_paid_report_after_a_failed_one_at_once_credit_once_and_flag_once():
    order = OrderFactory.create()
    failed = callback_body(order, success=False)
    Client().post(WALLET, failed, content_type="application/json", headers=headers_for(failed))
    paid = callback_body(order, success=True)
    headers = headers_for(paid)

    answers = run_at_once(
        lambda: (
            Client()
            .post(WALLET, paid, content_type="application/json", headers=headers)
            .json()["status"]
        ),
        threads=COPIES,
    )

    assert sorted(answers) == ["accepted"] + ["duplicate"] * (COPIES - 1)
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.CREDITED
    assert [flag["reason"] for flag in flags(payment)] == ["paid_after_reported_failure"]
    order.user.refresh_from_db()
    assert order.user.balance == Decimal("960.00")
    assert ledger_mismatches() == []
