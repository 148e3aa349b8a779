"""The web server's database connection dropped while it handles an ECPay notification.

ECPay (the simulator, served with the app by gunicorn) delivers a paid notification; the test
holds the payment's row lock from a connection of its own, so the server's handler waits on it,
finds the server's connection in MariaDB's process list and KILLs it, then lets go. ECPay
delivers again whatever is not answered `1|OK`: what matters is that the first delivery is not
acknowledged and the redelivery is applied, once.
"""

from collections.abc import Iterator
from contextlib import closing, contextmanager

import MySQLdb  # type: ignore[import-untyped]
import pytest
import requests
from django.db import connection

from gateways.ecpay import EcpayMethod
from gateways.ecpay.simulator.models import SimulatedEcpayDelivery, SimulatedEcpayTrade
from gateways.models import CallbackOutcome, GatewayCallback
from orders.checkout import ecpay_checkout_form
from payments.models import Payment, PaymentMethod, PaymentStatus
from tests.integration.conftest import emails_to
from tests.payments.test_ecpay_notifications import start_payment
from tests.processes import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.mysql]


@pytest.fixture
def live_app(live_app_url: str, live_worker, transactional_db: None, settings) -> str:
    """The live app and the session's worker, on a database both see committed."""
    settings.SITE_URL = live_app_url
    settings.ECPAY_BASE_URL = f"{live_app_url}/simulators/ecpay"
    return live_app_url


def test_a_notification_whose_database_connection_is_killed_is_redelivered_and_applied_once(
    live_app, worker_folder
):
    """Injects: KILL of the web server's MariaDB connection while its ECPay notification
    handler waits for the payment's row lock (after the callback was stored).

    Must hold: the first delivery is answered 503 `0|...` (not 1|OK, and not a 500), so ECPay
    delivers it again; the redelivery, the same signed body, is answered 1|OK and applied once:
    one transition to each status, one notified event, one email; both deliveries are kept as
    callbacks (the first left received, the second accepted).
    """
    payment = start_payment(PaymentMethod.CARD)
    customer = payment.user
    form = ecpay_checkout_form(payment=payment, method=EcpayMethod.CREDIT)
    checkout = requests.post(form.action, data=form.fields, timeout=10)
    assert checkout.status_code == 200, checkout.text
    trade = SimulatedEcpayTrade.objects.get(merchant_trade_no=payment.merchant_trade_no)

    with _row_locked(payment) as locker:
        paid = requests.post(f"{live_app}/simulators/ecpay/trades/{trade.trade_no}/pay", timeout=10)
        assert paid.status_code == 200
        waiting = _wait_for_the_server_query_on_the_lock(locker)
        locker.cursor().execute(f"KILL {int(waiting)}")

    wait_for(
        lambda: trade.deliveries.filter(answer="1|OK").exists(),
        timeout=30,
        what="ECPay's redelivery to be acknowledged",
    )
    deliveries = list(trade.deliveries.order_by("attempt"))
    assert [(d.attempt, d.status_code, d.answer) for d in deliveries] == [
        (1, 503, "0|database unavailable"),
        (2, 200, "1|OK"),
    ]
    assert deliveries[0].fields == deliveries[1].fields

    def notified() -> bool:
        payment.refresh_from_db()
        return payment.events.filter(type__startswith="notified_").exists()

    wait_for(notified, timeout=30, what="the payment to be completed and notified")
    wait_for(lambda: emails_to(worker_folder, customer.email) >= 1, timeout=20, what="the email")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.gateway_reference == trade.trade_no
    assert _transitions(payment) == [
        PaymentStatus.PENDING,
        PaymentStatus.PROCESSING,
        PaymentStatus.COMPLETED,
    ]
    assert payment.events.filter(type="notified_completed").count() == 1
    assert emails_to(worker_folder, customer.email) == 1
    callbacks = GatewayCallback.objects.filter(body__contains=trade.merchant_trade_no)
    assert list(callbacks.order_by("pk").values_list("outcome", flat=True)) == [
        CallbackOutcome.RECEIVED,
        CallbackOutcome.ACCEPTED,
    ]
    assert SimulatedEcpayDelivery.objects.filter(trade=trade).count() == 2


@contextmanager
def _row_locked(payment: Payment) -> Iterator[MySQLdb.Connection]:
    """Hold the payment's row lock (SELECT ... FOR UPDATE) in a connection of the test's own,
    until the block ends; yields that connection."""
    database = connection.settings_dict
    with closing(
        MySQLdb.connect(
            host=database["HOST"],
            port=int(database["PORT"]),
            user=database["USER"],
            password=database["PASSWORD"],
            database=database["NAME"],
        )
    ) as locker:
        locker.cursor().execute(
            "SELECT id FROM payments_payment WHERE id = %s FOR UPDATE", [payment.pk]
        )
        try:
            yield locker
        finally:
            locker.rollback()


def _wait_for_the_server_query_on_the_lock(locker: MySQLdb.Connection) -> int:
    """The id of the connection whose query waits for the lock `locker` holds."""
    found: list[int] = []

    def waiting() -> bool:
        cursor = locker.cursor()
        cursor.execute(
            "SELECT ID FROM information_schema.PROCESSLIST"
            " WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND INFO LIKE %s",
            ["%payments_payment%FOR UPDATE%"],
        )
        found[:] = [row[0] for row in cursor.fetchall()]
        return len(found) == 1

    wait_for(waiting, timeout=20, what="the notification to wait for the payment's row lock")
    return found[0]


def _transitions(payment: Payment) -> list[str]:
    return list(
        payment.events.exclude(to_status="").order_by("pk").values_list("to_status", flat=True)
    )
