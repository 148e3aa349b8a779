"""A database connection dropped in the middle of an ECPay notification, on either side.

ECPay (the simulator, served with the app by gunicorn) delivers a paid notification. The web
server stores it and queues a drain; a worker applies it. The test makes one of the two wait on a
lock it holds from a connection of its own, finds the waiting connection in MariaDB's process
list and KILLs it, then lets go. ECPay delivers again whatever is not answered `1|OK`; the
worker retries what it could not apply. Either way the payment moves once.
"""

from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import MySQLdb  # type: ignore[import-untyped]
import pytest
import requests
from django.db import connection

from gateways.ecpay import EcpayMethod
from gateways.ecpay.simulator.models import SimulatedEcpayTrade
from gateways.models import CallbackOutcome, GatewayCallback
from payments.ecpay.checkout import ecpay_checkout_form
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
    """Injects: KILL of the web server's MariaDB connection while it stores an ECPay
    notification (the test holds the callbacks table's write lock, so the INSERT waits).

    Must hold: the first delivery is answered 503 `0|...` (not 1|OK, and not a 500), so ECPay
    delivers it again; the redelivery, the same signed body, is answered 1|OK and applied once:
    one transition to each status, one notified event, one email, one callback (the first
    delivery's was never written).
    """
    payment, trade = _paid_on_ecpay_page()

    with _locked("LOCK TABLES gateways_gatewaycallback WRITE") as locker:
        paid = requests.post(f"{live_app}/simulators/ecpay/trades/{trade.trade_no}/pay", timeout=10)
        assert paid.status_code == 200
        waiting = _waiting_connection(locker, "%INSERT INTO%gateways_gatewaycallback%")
        locker.cursor().execute(f"KILL {int(waiting)}")
        locker.cursor().execute("UNLOCK TABLES")

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
    _assert_completed_and_told_once(payment, trade, worker_folder)
    callbacks = GatewayCallback.objects.filter(body__contains=trade.merchant_trade_no)
    assert list(callbacks.values_list("outcome", flat=True)) == [CallbackOutcome.ACCEPTED]


def test_a_notification_whose_worker_connection_is_killed_is_retried_and_applied_once(
    live_app, live_worker, worker_folder
):
    """Injects: KILL of the worker's MariaDB connection while it applies an ECPay notification
    (the test holds the payment's row lock, so the worker waits for it).

    Must hold: ECPay's one delivery is answered 1|OK (it was stored); the worker's drain retries
    on a new connection and applies it once: one transition to each status, one notified
    event, one email, the callback accepted.
    """
    payment, trade = _paid_on_ecpay_page()

    with _locked("SELECT id FROM payments_payment WHERE id = %s FOR UPDATE", payment.pk) as locker:
        paid = requests.post(f"{live_app}/simulators/ecpay/trades/{trade.trade_no}/pay", timeout=10)
        assert paid.status_code == 200
        waiting = _waiting_connection(locker, "%payments_payment%FOR UPDATE%")
        locker.cursor().execute(f"KILL {int(waiting)}")

    _assert_completed_and_told_once(payment, trade, worker_folder)
    assert "ECPay notifications not applied, retrying" in live_worker.read_text()
    deliveries = list(trade.deliveries.values_list("status_code", "answer"))
    assert deliveries == [(200, "1|OK")]
    callbacks = GatewayCallback.objects.filter(body__contains=trade.merchant_trade_no)
    assert list(callbacks.values_list("outcome", flat=True)) == [CallbackOutcome.ACCEPTED]


def _paid_on_ecpay_page() -> tuple[Payment, SimulatedEcpayTrade]:
    """A pending ECPay card payment, sent to the simulator's checkout: a trade ready to pay."""
    payment = start_payment(PaymentMethod.CARD)
    form = ecpay_checkout_form(payment=payment, method=EcpayMethod.CREDIT)
    checkout = requests.post(form.action, data=form.fields, timeout=10)
    assert checkout.status_code == 200, checkout.text
    return payment, SimulatedEcpayTrade.objects.get(merchant_trade_no=payment.merchant_trade_no)


def _assert_completed_and_told_once(
    payment: Payment, trade: SimulatedEcpayTrade, worker_folder: Path
) -> None:
    def notified() -> bool:
        payment.refresh_from_db()
        return payment.events.filter(type__startswith="notified_").exists()

    wait_for(notified, timeout=30, what="the payment to be completed and notified")
    wait_for(
        lambda: emails_to(worker_folder, payment.user.email) >= 1, timeout=20, what="the email"
    )
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.gateway_reference == trade.trade_no
    assert _transitions(payment) == [
        PaymentStatus.PENDING,
        PaymentStatus.PROCESSING,
        PaymentStatus.COMPLETED,
    ]
    assert payment.events.filter(type="notified_completed").count() == 1
    assert emails_to(worker_folder, payment.user.email) == 1


@contextmanager
def _locked(statement: str, *parameters: object) -> Iterator[MySQLdb.Connection]:
    """Hold the lock `statement` takes, in a connection of the test's own, until the block
    ends (then roll back and close, which lets every lock go); yields that connection."""
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
        locker.cursor().execute(statement, parameters or None)
        try:
            yield locker
        finally:
            locker.rollback()


def _waiting_connection(locker: MySQLdb.Connection, query_like: str) -> int:
    """The id of the one other connection whose running query matches `query_like` (it waits
    for the lock `locker` holds)."""
    found: list[int] = []

    def waiting() -> bool:
        cursor = locker.cursor()
        cursor.execute(
            "SELECT ID FROM information_schema.PROCESSLIST"
            " WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND INFO LIKE %s",
            [query_like],
        )
        found[:] = [row[0] for row in cursor.fetchall()]
        return len(found) == 1

    wait_for(waiting, timeout=20, what=f"a query like {query_like!r} to wait for the lock")
    return found[0]


def _transitions(payment: Payment) -> list[str]:
    return list(
        payment.events.exclude(to_status="").order_by("pk").values_list("to_status", flat=True)
    )
