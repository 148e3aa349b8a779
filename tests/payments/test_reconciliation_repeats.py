"""Reconciliation asked again: ECPay agreeing with us is no discrepancy, and a discrepancy is
recorded and flagged once, not at every re-ask.

QueryTradeInfo is faked (`query_trade`): what ECPay answers is the test's to choose.
"""

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from gateways.ecpay import TradeStatus
from gateways.models import Gateway
from payments.ecpay import reconciliation
from payments.ecpay.reconciliation import (
    ReconciliationReport,
    ecpay_payments_to_check,
    payment_requery,
    reconcile_ecpay,
    reconcile_trade_status,
)
from payments.models import (
    DiscrepancyKind,
    Payment,
    PaymentMethod,
    PaymentStatus,
    ReconciliationCheck,
    ReconciliationDiscrepancy,
)
from payments.services import discrepancy_resolve, payment_mark_reviewed
from tests.back_office import manager
from tests.factories import PaymentFactory
from tests.payments.test_ecpay_notifications import (
    deliver,
    paid_notification,
    signed,
    start_payment,
)

pytestmark = pytest.mark.django_db

# paid_notification's TradeNo.
TRADE_NO = "2311221530001234"
CARD_AGE = timedelta(minutes=10)


def paid_at_ecpay(payment: Payment, *, amount: Decimal | None = None) -> TradeStatus:
    """QueryTradeInfo's answer for a paid card trade."""
    return TradeStatus(
        merchant_trade_no=payment.merchant_trade_no or "",
        paid=True,
        trade_no=TRADE_NO,
        trade_amt=payment.amount if amount is None else amount,
        payment_type="Credit_CreditCard",
        payment_date="2024/01/01 10:00:00",
        fields={"TradeStatus": "1"},
    )


@pytest.fixture
def ecpay_answers(monkeypatch) -> Callable[[TradeStatus], None]:
    def answer(status: TradeStatus) -> None:
        monkeypatch.setattr(reconciliation, "query_trade", lambda trade_no, config: status)

    return answer


def paid_by_its_notification(client: Client, capture) -> Payment:
    payment = start_payment()
    with capture(execute=True):
        assert deliver(client, signed(paid_notification(payment))) == "1|OK"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    return payment


def test_asking_ecpay_about_a_completed_payment_finds_it_in_agreement(
    client, django_capture_on_commit_callbacks, ecpay_answers
):
    payment = paid_by_its_notification(client, django_capture_on_commit_callbacks)
    ecpay_answers(paid_at_ecpay(payment))

    event = payment_requery(payment_id=payment.pk, actor=manager())

    payment.refresh_from_db()
    assert (payment.status, payment.needs_review) == (PaymentStatus.COMPLETED, False)
    assert event.data["discrepancies"] == []
    assert event.data["status_after"] == PaymentStatus.COMPLETED
    assert not ReconciliationDiscrepancy.objects.exists()
    assert not payment.events.filter(type="flagged_for_review").exists()


def test_a_sweep_that_read_the_payment_before_its_notification_finds_agreement(
    client, django_capture_on_commit_callbacks
):
    payment = start_payment()
    read_by_the_sweep = Payment.objects.get(pk=payment.pk)  # still pending as it was read
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, signed(paid_notification(payment))) == "1|OK"
    report = ReconciliationReport()

    reconcile_trade_status(read_by_the_sweep, paid_at_ecpay(payment), report)

    assert (report.discrepancies, report.recovered) == ([], [])
    assert not ReconciliationDiscrepancy.objects.exists()
    payment.refresh_from_db()
    assert (payment.status, payment.needs_review) == (PaymentStatus.COMPLETED, False)


def test_ecpay_paid_under_another_trade_no_than_ours_is_still_a_status_mismatch(
    client, django_capture_on_commit_callbacks, ecpay_answers
):
    payment = paid_by_its_notification(client, django_capture_on_commit_callbacks)
    ecpay_answers(replace(paid_at_ecpay(payment), trade_no="2311221530009999"))  # not ours

    event = payment_requery(payment_id=payment.pk, actor=manager())

    assert event.data["discrepancies"] == [f"{payment.public_id}: status_mismatch"]
    payment.refresh_from_db()
    assert payment.needs_review is True
    assert payment.events.get(type="flagged_for_review").data["reason"] == "conflicting_trade_no"


def amount_mismatch_payment(ecpay_answers) -> Payment:
    """A pending card payment ECPay reports paid for one TWD more than we asked."""
    payment = PaymentFactory.create(
        gateway=Gateway.ECPAY,
        method=PaymentMethod.CARD,
        merchant_trade_no="P2401011200001ABCDEF",
    )
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(minutes=15))
    ecpay_answers(paid_at_ecpay(payment, amount=payment.amount + 1))
    return payment


def reask_later(payment: Payment) -> ReconciliationReport:
    """Run the sweep once ECPAY_RECONCILE_REASK_MINUTES have passed since it last asked."""
    ReconciliationCheck.objects.filter(payment=payment).update(
        asked_at=timezone.now() - timedelta(minutes=31)
    )
    return reconcile_ecpay(card_age=CARD_AGE, limit=100)


def test_an_amount_mismatch_is_flagged_once_and_not_asked_about_while_unresolved(ecpay_answers):
    payment = amount_mismatch_payment(ecpay_answers)
    first = reconcile_ecpay(card_age=CARD_AGE, limit=100)
    assert first.discrepancies == [f"{payment.public_id}: amount_mismatch"]
    payment_mark_reviewed(payment_id=payment.pk, actor=manager(), reason="called ECPay")

    again = [reask_later(payment) for _ in range(3)]

    assert [report.checked for report in again] == [0, 0, 0]
    payment.refresh_from_db()
    assert payment.needs_review is False  # staff's review stands
    assert payment.events.filter(type="flagged_for_review").count() == 1
    assert ReconciliationCheck.objects.get(payment=payment).times_asked == 1
    assert not ecpay_payments_to_check(card_age=CARD_AGE).exists()


def test_once_resolved_a_payment_is_followed_again_without_a_second_flag(ecpay_answers):
    payment = amount_mismatch_payment(ecpay_answers)
    reconcile_ecpay(card_age=CARD_AGE, limit=100)
    staff = manager()
    payment_mark_reviewed(payment_id=payment.pk, actor=staff, reason="called ECPay")
    discrepancy_resolve(
        discrepancy_id=ReconciliationDiscrepancy.objects.get(payment=payment).pk,
        actor=staff,
        resolution="ECPay is correcting the amount",
    )

    same_answer = reask_later(payment)
    assert (same_answer.checked, same_answer.discrepancies) == (1, [])
    payment.refresh_from_db()
    assert (payment.needs_review, payment.status) == (False, PaymentStatus.PENDING)
    assert payment.events.filter(type="flagged_for_review").count() == 1

    ecpay_answers(paid_at_ecpay(payment))  # ECPay corrected it: the money is recovered
    corrected = reask_later(payment)

    assert corrected.recovered == [payment.public_id]
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PROCESSING
    assert set(payment.discrepancies.values_list("kind", flat=True)) == {
        DiscrepancyKind.AMOUNT_MISMATCH,
        DiscrepancyKind.MISSING_CALLBACK,
    }


def test_asking_again_by_hand_about_an_amount_mismatch_flags_nothing_more(ecpay_answers):
    payment = amount_mismatch_payment(ecpay_answers)
    reconcile_ecpay(card_age=CARD_AGE, limit=100)
    staff = manager()
    payment_mark_reviewed(payment_id=payment.pk, actor=staff, reason="called ECPay")

    event = payment_requery(payment_id=payment.pk, actor=staff)

    assert event.data["discrepancies"] == []
    payment.refresh_from_db()
    assert payment.needs_review is False
    assert payment.events.filter(type="flagged_for_review").count() == 1
