"""Money ECPay reports late is still money (issue 22, 1).

ECPay reports a store barcode about two days after the customer paid. Such a report is never
refused for its age: a barcode payment stays pending past its code's deadline for as long as its
result may still come (ECPAY_BARCODE_RESULT_DELAY_HOURS), reconciliation follows every ATM and
store payment until ECPay has settled it or no result can come any more, and money reported for
a payment we expired anyway is credited to the customer's balance and flagged for staff.

The ECPay simulator plays ECPay over real HTTP (live server): it holds a barcode's result as
ECPay does, and its `send-result` button sends it, dated when the customer paid.
"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import F
from django.test import Client
from django.utils import timezone

from gateways.ecpay import EcpayMethod
from gateways.ecpay.simulator.models import SimulatedEcpayDelivery, SimulatedEcpayTrade, set_faults
from orders.models import OrderStatus
from payments.ecpay.checkout import ecpay_checkout_form
from payments.ecpay.reconciliation import ecpay_payments_to_check
from payments.models import (
    DiscrepancyKind,
    Payment,
    PaymentMethod,
    PaymentStatus,
    ReconciliationCheck,
    ReconciliationDiscrepancy,
)
from payments.selectors import ledger_mismatches
from payments.services import payment_expire
from payments.tasks import payments_expire_pending
from tests.gateways.ecpay.conftest import wait_for_deliveries
from tests.payments.test_ecpay_notifications import start_payment

SIMULATOR = "/simulators/ecpay"
CARD_AGE = timedelta(minutes=10)


@pytest.fixture
def ecpay_is_the_simulator(live_server, settings):
    """The simulator as ECPay, delivering to the live server."""
    settings.ECPAY_BASE_URL = f"{live_server.url}{SIMULATOR}"
    settings.SITE_URL = live_server.url
    yield
    wait_for_deliveries()


def paid_at_the_store() -> tuple[Payment, SimulatedEcpayTrade, Client]:
    """A barcode payment whose barcode the customer has just paid at the store: ECPay has told
    us the code (and its deadline), and holds the result for two days."""
    payment = start_payment(PaymentMethod.BARCODE)
    browser = Client()
    form = ecpay_checkout_form(payment=payment, method=EcpayMethod.BARCODE)
    assert browser.post(f"{SIMULATOR}/Cashier/AioCheckOut/V5", form.fields).status_code == 200
    trade = SimulatedEcpayTrade.objects.get(merchant_trade_no=payment.merchant_trade_no)
    browser.post(f"{SIMULATOR}/trades/{trade.trade_no}/issue-code")
    wait_for_deliveries()
    browser.post(f"{SIMULATOR}/trades/{trade.trade_no}/pay-code")
    wait_for_deliveries()
    payment.refresh_from_db()
    trade.refresh_from_db()
    assert payment.payment_code
    assert payment.payment_code_expires_at
    assert (payment.status, trade.result_due_at is not None) == (PaymentStatus.PENDING, True)
    return payment, trade, browser


def days_pass(payment: Payment, trade: SimulatedEcpayTrade, days: float, *, deadline_after_paid):
    """Move the payment and the trade `days` into the past; the code's deadline was
    `deadline_after_paid` after the customer paid."""
    assert trade.payment_date is not None
    back = timedelta(days=days)
    paid_at = trade.payment_date - back
    SimulatedEcpayTrade.objects.filter(pk=trade.pk).update(
        created_at=F("created_at") - back,
        payment_date=paid_at,
        result_due_at=F("result_due_at") - back,
    )
    Payment.objects.filter(pk=payment.pk).update(
        created_at=F("created_at") - back, payment_code_expires_at=paid_at + deadline_after_paid
    )
    payment.refresh_from_db()
    trade.refresh_from_db()


def send_result(browser: Client, trade: SimulatedEcpayTrade) -> SimulatedEcpayDelivery:
    assert browser.post(f"{SIMULATOR}/trades/{trade.trade_no}/send-result").status_code == 302
    wait_for_deliveries()
    return SimulatedEcpayDelivery.objects.filter(trade=trade).latest("pk")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("ecpay_is_the_simulator")
def test_a_barcode_reported_two_and_a_half_days_late_completes_its_payment(mailoutbox):
    payment, trade, browser = paid_at_the_store()
    # Paid an hour before the barcode's deadline, two and a half days ago.
    days_pass(payment, trade, 2.5, deadline_after_paid=timedelta(hours=1))

    payments_expire_pending()  # the sweep: the result may still come, so the payment waits
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING

    delivery = send_result(browser, trade)

    assert (delivery.status_code, delivery.answer, delivery.attempt) == (200, "1|OK", 1)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.gateway_reference == trade.trade_no
    assert payment.order.status == OrderStatus.PAID
    assert payment.needs_review is False
    assert len(mailoutbox) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("ecpay_is_the_simulator")
def test_money_reported_for_a_barcode_payment_we_expired_is_credited_and_flagged(mailoutbox):
    payment, trade, browser = paid_at_the_store()
    # The barcode's deadline passed 84 hours ago, past the 72 ECPay may take to report it.
    days_pass(payment, trade, 4, deadline_after_paid=timedelta(hours=12))
    assert payment_expire(payment_id=payment.pk).status == PaymentStatus.EXPIRED

    delivery = send_result(browser, trade)

    assert (delivery.status_code, delivery.answer) == (200, "1|OK")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CREDITED
    assert payment.needs_review is True
    assert payment.user.balance == payment.amount
    assert ledger_mismatches() == []
    assert payment.order.status != OrderStatus.PAID
    assert len(mailoutbox) == 1  # the customer is told where the money went


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("ecpay_is_the_simulator")
def test_reconciliation_follows_an_expired_barcode_until_ecpay_reports_it(capsys, settings):
    payment, trade, _ = paid_at_the_store()
    days_pass(payment, trade, 4, deadline_after_paid=timedelta(hours=12))
    assert payment_expire(payment_id=payment.pk).status == PaymentStatus.EXPIRED
    # Created more than two days ago, and expired: still followed, its result may yet come.
    SimulatedEcpayTrade.objects.filter(pk=trade.pk).update(
        result_due_at=timezone.now() + timedelta(hours=1)
    )
    set_faults(drop_notifications=True)  # and its notification is lost

    call_command("reconcile_ecpay")
    assert "checked 1" in capsys.readouterr().out
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.EXPIRED
    check = ReconciliationCheck.objects.get(payment=payment)
    assert (check.times_asked, check.answer["trade_status"]) == (1, "0")

    call_command("reconcile_ecpay")  # again at once: not asked before ECPAY_RECONCILE_REASK_MINUTES
    assert "checked 0" in capsys.readouterr().out

    SimulatedEcpayTrade.objects.filter(pk=trade.pk).update(result_due_at=timezone.now())
    ReconciliationCheck.objects.filter(pk=check.pk).update(
        asked_at=timezone.now() - timedelta(minutes=settings.ECPAY_RECONCILE_REASK_MINUTES + 1)
    )
    call_command("reconcile_ecpay")

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CREDITED
    assert payment.needs_review is True
    assert payment.user.balance == payment.amount
    discrepancy = ReconciliationDiscrepancy.objects.get(payment=payment)
    assert discrepancy.kind == DiscrepancyKind.STATUS_MISMATCH
    assert ReconciliationCheck.objects.get(payment=payment).times_asked == 2
    assert not ecpay_payments_to_check(card_age=CARD_AGE).filter(pk=payment.pk).exists()


def code_payment(method: str, status: str, *, deadline_ago: timedelta) -> Payment:
    payment = start_payment(method)
    Payment.objects.filter(pk=payment.pk).update(
        status=status,
        # Only a payment still on its way holds its order's claim.
        claimed_order=payment.order if status == PaymentStatus.PENDING else None,
        created_at=timezone.now() - deadline_ago - timedelta(days=7),
        payment_code="141129616 5103529286310158 112901000000960",
        payment_code_expires_at=timezone.now() - deadline_ago,
    )
    return payment


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "deadline_ago", "followed"),
    [
        # ATM and CVS results come at once: followed for FOLLOW_UP_MARGIN (a day) past the
        # deadline, for ECPay's redeliveries.
        (PaymentMethod.ATM, timedelta(hours=20), True),
        (PaymentMethod.ATM, timedelta(hours=25), False),
        (PaymentMethod.CVS, timedelta(hours=25), False),
        # A barcode's result may come ECPAY_BARCODE_RESULT_DELAY_HOURS (72) later, then a day.
        (PaymentMethod.BARCODE, timedelta(hours=95), True),
        (PaymentMethod.BARCODE, timedelta(hours=97), False),
    ],
)
@pytest.mark.parametrize("status", [PaymentStatus.PENDING, PaymentStatus.EXPIRED])
def test_a_code_payment_is_followed_until_no_result_can_come(
    method, status, deadline_ago, followed
):
    payment = code_payment(method, status, deadline_ago=deadline_ago)

    asked = ecpay_payments_to_check(card_age=CARD_AGE).filter(pk=payment.pk).exists()

    assert asked is followed


@pytest.mark.django_db
def test_a_code_payment_is_not_asked_about_before_its_deadline():
    payment = code_payment(
        PaymentMethod.CVS, PaymentStatus.PENDING, deadline_ago=-timedelta(hours=1)
    )

    assert not ecpay_payments_to_check(card_age=CARD_AGE).filter(pk=payment.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "deadline_ago", "expires"),
    [
        (PaymentMethod.ATM, timedelta(minutes=1), True),
        (PaymentMethod.CVS, timedelta(minutes=1), True),
        (PaymentMethod.BARCODE, timedelta(hours=71), False),
        (PaymentMethod.BARCODE, timedelta(hours=73), True),
    ],
)
def test_a_barcode_payment_waits_past_its_deadline_for_its_late_result(
    method, deadline_ago, expires
):
    payment = code_payment(method, PaymentStatus.PENDING, deadline_ago=deadline_ago)

    status = payment_expire(payment_id=payment.pk).status

    assert (status == PaymentStatus.EXPIRED) is expires
