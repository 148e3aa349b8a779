"""Reconciliation with ECPay: a lost notification is recovered by asking QueryTradeInfo.

The ECPay simulator plays ECPay: the customer checks out and pays on it (by the test client),
with its notifications dropped; `reconcile_ecpay` then asks it over real HTTP (live server).
"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from gateways.ecpay import EcpayMethod
from gateways.ecpay.simulator.models import SimulatedEcpayTrade, set_faults
from gateways.models import Gateway, GatewaySwitch
from orders.models import OrderStatus
from payments.ecpay.checkout import ecpay_checkout_form
from payments.ecpay.reconciliation import reconcile_ecpay
from payments.models import (
    DiscrepancyKind,
    Payment,
    PaymentKind,
    PaymentMethod,
    PaymentStatus,
    ReconciliationDiscrepancy,
)
from payments.selectors import ledger_mismatches
from payments.services import payment_fail, payment_start_ecpay
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def ecpay_is_the_simulator(live_server, settings):
    settings.ECPAY_BASE_URL = f"{live_server.url}/simulators/ecpay"
    settings.SITE_URL = live_server.url


def paid_at_ecpay_without_notification(*, minutes_ago: int = 15) -> Payment:
    """A card payment the customer paid on ECPay whose notification never reached us."""
    order = OrderFactory.create()
    payment = payment_start_ecpay(
        user=order.user,
        kind=PaymentKind.ORDER,
        order=order,
        amount=order.total,
        currency="TWD",
        method=PaymentMethod.CARD,
    )
    form = ecpay_checkout_form(payment=payment, method=EcpayMethod.CREDIT)
    browser = Client()
    assert browser.post("/simulators/ecpay/Cashier/AioCheckOut/V5", form.fields).status_code == 200
    trade = SimulatedEcpayTrade.objects.get(merchant_trade_no=payment.merchant_trade_no)
    set_faults(drop_notifications=True)
    browser.post(f"/simulators/ecpay/trades/{trade.trade_no}/pay")
    Payment.objects.filter(pk=payment.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    payment.refresh_from_db()
    return payment


def test_a_dropped_notification_is_recovered_and_recorded_as_a_discrepancy(capsys, mailoutbox):
    payment = paid_at_ecpay_without_notification()
    assert payment.status == PaymentStatus.PENDING

    call_command("reconcile_ecpay")

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.order.status == OrderStatus.PAID
    discrepancy = ReconciliationDiscrepancy.objects.get(payment=payment)
    assert discrepancy.kind == DiscrepancyKind.MISSING_CALLBACK
    assert discrepancy.details["trade_no"] == payment.gateway_reference
    assert f"recovered {payment.public_id}" in capsys.readouterr().out
    assert len(mailoutbox) == 1

    call_command("reconcile_ecpay")  # again: nothing more to do
    assert ReconciliationDiscrepancy.objects.count() == 1
    assert len(mailoutbox) == 1


def test_a_card_payment_is_not_asked_about_too_soon(capsys):
    payment = paid_at_ecpay_without_notification(minutes_ago=2)

    call_command("reconcile_ecpay")

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert "checked 0" in capsys.readouterr().out


def test_the_dry_run_asks_but_changes_nothing(capsys):
    payment = paid_at_ecpay_without_notification()

    call_command("reconcile_ecpay", "--dry-run")

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert not ReconciliationDiscrepancy.objects.exists()
    assert "checked 1" in capsys.readouterr().out


def test_money_for_a_payment_we_gave_up_on_is_credited_and_a_status_mismatch_for_review():
    payment = paid_at_ecpay_without_notification()
    payment_fail(payment_id=payment.pk, reason="customer gave up", needs_review=False)

    call_command("reconcile_ecpay")

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CREDITED
    assert payment.needs_review is True
    assert payment.user.balance == payment.amount
    assert ledger_mismatches() == []
    assert ReconciliationDiscrepancy.objects.get(payment=payment).kind == (
        DiscrepancyKind.STATUS_MISMATCH
    )


def test_http_403_backs_off_for_thirty_minutes(capsys):
    payment = paid_at_ecpay_without_notification()
    set_faults(drop_notifications=True, query_forbidden=True)

    call_command("reconcile_ecpay")

    assert "asked us to wait" in capsys.readouterr().out
    blocked_until = GatewaySwitch.objects.get(gateway=Gateway.ECPAY).queries_blocked_until
    assert blocked_until is not None
    assert blocked_until - timezone.now() > timedelta(minutes=29)

    set_faults(drop_notifications=True)  # ECPay would answer again, but we wait as asked
    call_command("reconcile_ecpay")

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert "checked 0" in capsys.readouterr().out


def test_the_limit_caps_the_questions_and_each_one_is_reported(capsys):
    payments = [paid_at_ecpay_without_notification() for _ in range(3)]
    asked: list[None] = []

    report = reconcile_ecpay(
        card_age=timedelta(minutes=10), limit=2, on_asked=lambda: asked.append(None)
    )

    assert (report.checked, len(asked)) == (2, 2)
    # Oldest first: the first two made.
    assert report.recovered == [payment.public_id for payment in payments[:2]]
    assert Payment.objects.filter(status=PaymentStatus.PENDING).get() == payments[2]
