"""An ECPay refund left pending (its task's message lost, its worker gone mid-call) is marked
unknown by the janitor and flagged for a person, once: never sent from there, as DoAction takes
no idempotency key and the refund may have been made."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from gateways.models import Gateway
from payments.models import (
    GatewayOperation,
    OperationKind,
    OperationStatus,
    Payment,
    PaymentKind,
    PaymentMethod,
    PaymentStatus,
)
from payments.refunds import processing
from payments.refunds.approvals import refund_ask
from payments.selectors import operations_unknown
from payments.tasks import operations_settle_unknown
from payments.tasks import refund_process as refund_process_task
from tests.back_office import manager
from tests.factories import OrderFactory, PaymentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_approval_needed(settings):
    settings.REFUND_APPROVAL_THRESHOLD = Decimal("100000")
    settings.OPERATION_SETTLE_AFTER_SECONDS = 60
    settings.PIPELINE_STRANDED_AFTER_SECONDS = 300


@pytest.fixture
def sent_to_ecpay(monkeypatch) -> list[Decimal]:
    """DoAction, faked: what was sent to it (it refunds each time, with no key to dedupe on)."""
    sent: list[Decimal] = []

    def credit_refund(*, merchant_trade_no: str, trade_no: str, amount: Decimal, config) -> None:
        sent.append(amount)

    monkeypatch.setattr(processing, "credit_refund", credit_refund)
    return sent


def ecpay_card_payment() -> Payment:
    order = OrderFactory.create()
    return PaymentFactory.create(
        user=order.user,
        kind=PaymentKind.ORDER,
        order=order,
        amount=order.total,
        gateway=Gateway.ECPAY,
        method=PaymentMethod.CARD,
        status=PaymentStatus.COMPLETED,
        merchant_trade_no="P2401011200001ABCDEF",
        gateway_reference="2401011200009999",
    )


def refund_whose_task_was_lost(payment: Payment, *, age: timedelta) -> GatewayOperation:
    """A refund staff asked for: recorded, its task queued after commit, which a test's
    transaction never reaches (as if the broker had lost the message)."""
    refund_ask(payment_id=payment.pk, amount=Decimal("100"), reason="dented", actor=manager())
    refund = GatewayOperation.objects.get(payment=payment, kind=OperationKind.REFUND)
    GatewayOperation.objects.filter(pk=refund.pk).update(created_at=timezone.now() - age)
    return refund


def test_a_refund_left_pending_is_marked_unknown_and_flagged_once_never_sent(sent_to_ecpay):
    payment = ecpay_card_payment()
    refund = refund_whose_task_was_lost(payment, age=timedelta(minutes=6))

    for _ in range(3):
        operations_settle_unknown()

    refund.refresh_from_db()
    payment.refresh_from_db()
    assert (refund.status, refund.error_code) == (OperationStatus.UNKNOWN, "left_pending")
    assert payment.needs_review is True
    flags = payment.events.filter(type="flagged_for_review")
    assert [flag.data["reason"] for flag in flags] == ["refund_outcome_unknown"]
    assert operations_unknown().count == 1  # the alarm sees it
    assert sent_to_ecpay == []


def test_a_refund_still_within_its_retries_is_left_to_its_task(sent_to_ecpay):
    payment = ecpay_card_payment()
    refund = refund_whose_task_was_lost(payment, age=timedelta(minutes=4))

    operations_settle_unknown()

    refund.refresh_from_db()
    payment.refresh_from_db()
    assert (refund.status, payment.needs_review) == (OperationStatus.PENDING, False)
    refund_process_task(refund.pk)  # its task arrives, late but within the wait
    refund.refresh_from_db()
    assert refund.status == OperationStatus.SUCCEEDED
    assert sent_to_ecpay == [Decimal("100")]


def test_the_lost_task_delivered_after_the_janitor_sends_nothing(sent_to_ecpay):
    payment = ecpay_card_payment()
    refund = refund_whose_task_was_lost(payment, age=timedelta(hours=1))
    operations_settle_unknown()

    refund_process_task(refund.pk)

    refund.refresh_from_db()
    assert refund.status == OperationStatus.UNKNOWN
    assert sent_to_ecpay == []


def test_an_answer_arriving_after_the_janitor_gave_up_waiting_still_settles_the_refund(
    monkeypatch,
):
    payment = ecpay_card_payment()
    refund = refund_whose_task_was_lost(payment, age=timedelta(hours=1))

    def slow_credit_refund(**kwargs: object) -> None:
        operations_settle_unknown()  # the janitor runs while the call is on its way

    monkeypatch.setattr(processing, "credit_refund", slow_credit_refund)

    processing.refund_process(refund.pk)

    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == OperationStatus.SUCCEEDED
    assert payment.refunded_amount == Decimal("100")
    # Flagged while it was unknown; the person finds it settled.
    assert payment.events.filter(type="flagged_for_review").count() == 1
    assert operations_unknown().count == 0
