"""A storm of ECPay notifications: duplicated, late, out of order and dropped, for 200 payments.

The ECPay simulator is served with the app by gunicorn (several processes with threads); its
delivery threads post every notification over HTTP to the app, concurrently, while the pipeline
steps they queue run in the session's Celery worker on Redis. The test plays the customers,
pressing the simulator's buttons from several threads, and switches the simulator's faults
between waves, so the waves' notifications overlap.
"""

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from django.conf import settings
from django.db.models import Count, Q, Sum

from accounts.models import User
from config.celery import app as celery_app
from gateways.ecpay import EcpayMethod
from gateways.ecpay.simulator.models import (
    SimulatedEcpayDelivery,
    SimulatedEcpayTrade,
    SimulatedEcpayTradeStatus,
    set_faults,
)
from gateways.models import GatewayCallback
from notifications.models import Notification, NotificationChannel
from notifications.services import notify_payment_event
from payments import pipeline
from payments.ecpay.checkout import ecpay_checkout_form
from payments.ecpay.reconciliation import reconcile_ecpay
from payments.models import LedgerEntry, Payment, PaymentKind, PaymentMethod, PaymentStatus
from payments.services import payment_start_ecpay
from tests.concurrency import run_at_once
from tests.factories import OrderFactory, PaymentFactory, UserFactory
from tests.integration.conftest import database_url, emails_to
from tests.processes import manage, project_environment, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.mysql]

CUSTOMERS = 20
# What ECPay's trade ends as, for our payment's status to follow.
EXPECTED_STATUS = {
    SimulatedEcpayTradeStatus.PAID: PaymentStatus.COMPLETED,
    SimulatedEcpayTradeStatus.FAILED: PaymentStatus.FAILED,
    SimulatedEcpayTradeStatus.CODE_ISSUED: PaymentStatus.PENDING,
}
TRANSITIONS = {
    PaymentStatus.COMPLETED: [
        PaymentStatus.PENDING,
        PaymentStatus.PROCESSING,
        PaymentStatus.COMPLETED,
    ],
    PaymentStatus.FAILED: [PaymentStatus.PENDING, PaymentStatus.PROCESSING, PaymentStatus.FAILED],
    PaymentStatus.PENDING: [PaymentStatus.PENDING],
}


@dataclass(frozen=True)
class Customer:
    """One payment of the storm and its trade at ECPay."""

    payment: Payment
    trade_no: str


@pytest.fixture
def live_app(live_app_url: str, live_worker, transactional_db: None, settings) -> Iterator[str]:
    """The live app and the session's worker; what this test queues goes to Redis, for it."""
    settings.SITE_URL = live_app_url
    settings.ECPAY_BASE_URL = f"{live_app_url}/simulators/ecpay"
    celery_app.conf.task_always_eager = False
    try:
        yield live_app_url
    finally:
        set_faults()
        celery_app.conf.task_always_eager = True


def test_a_storm_of_duplicate_late_out_of_order_and_dropped_notifications_settles_each_payment_once(
    live_app, worker_folder
):
    """Injects, for 200 payments (deposits and orders, card and ATM, paid and failed), in three
    overlapping waves: wave A every notification twice and 2 s late (ATM codes among them,
    arriving after the payment they belong to was paid in wave B); wave B every notification
    three times, ATM codes after the paid notification (out of order); wave C no notification
    at all (dropped; reconciliation asks ECPay instead).

    Must hold: every payment ends in the state ECPay's trade is in; each has one transition to
    each status on its way there and one notification (event, email); every delivery was stored
    as a callback; each paid deposit is credited once and `manage.py check_ledger` exits 0.
    """
    users = [UserFactory.create() for _ in range(CUSTOMERS)]
    starts = iter(range(200))

    def wave(size: int, method: str) -> list[Customer]:
        return [_start(live_app, users[next(starts) % CUSTOMERS], method) for _ in range(size)]

    card_a, atm_a, code_only = wave(50, "card"), wave(30, "atm"), wave(10, "atm")
    card_b, atm_b = wave(50, "card"), wave(40, "atm")
    card_c = wave(20, "card")

    set_faults(duplicate_deliveries=1, delay_seconds=2)
    _press_all(live_app, [(c, "fail" if i % 7 == 0 else "pay") for i, c in enumerate(card_a)])
    _press_all(live_app, [(c, "issue-code") for c in atm_a + code_only])
    set_faults(duplicate_deliveries=2, out_of_order=True)
    _press_all(live_app, [(c, "fail" if i % 7 == 0 else "pay") for i, c in enumerate(card_b)])
    _press_all(live_app, [(c, "issue-code") for c in atm_b])
    _press_all(live_app, [(c, "pay-code") for c in atm_a + atm_b])
    set_faults(drop_notifications=True)
    _press_all(live_app, [(c, "pay") for c in card_c])
    set_faults()

    # Each notification sent, as often as its wave sent it, until answered 1|OK.
    acknowledged = 2 * len(card_a) + (2 + 3) * len(atm_a) + 2 * len(code_only)
    acknowledged += 3 * len(card_b) + 2 * 3 * len(atm_b)
    wait_for(
        lambda: SimulatedEcpayDelivery.objects.filter(answer="1|OK").count() >= acknowledged,
        timeout=120,
        what=f"{acknowledged} notifications to be acknowledged",
    )
    reconcile_ecpay(card_age=timedelta(0), limit=None)  # wave C's lost notifications

    storm = card_a + atm_a + code_only + card_b + atm_b + card_c
    trades = {
        trade.trade_no: trade
        for trade in SimulatedEcpayTrade.objects.filter(trade_no__in=[c.trade_no for c in storm])
    }
    expected = {
        c.payment.pk: EXPECTED_STATUS[SimulatedEcpayTradeStatus(trades[c.trade_no].status)]
        for c in storm
    }
    failed = 2 * len(range(0, 50, 7))
    assert Counter(expected.values()) == {
        PaymentStatus.COMPLETED: 200 - failed - len(code_only),
        PaymentStatus.FAILED: failed,
        PaymentStatus.PENDING: len(code_only),
    }
    wait_for(lambda: _settled(expected), timeout=120, what="every payment to reach ECPay's state")
    wait_for(_pipeline_idle, timeout=60, what="the worker to finish what was queued")

    payments = Payment.objects.filter(pk__in=expected).prefetch_related("events")
    for payment in payments:
        status = expected[payment.pk]
        assert payment.status == status, payment.public_id
        transitions = [e.to_status for e in payment.events.all() if e.to_status]
        assert transitions == TRANSITIONS[status], (payment.public_id, transitions)
        notified = [e.type for e in payment.events.all() if e.type.startswith("notified_")]
        assert notified == ([] if status == PaymentStatus.PENDING else [f"notified_{status}"])
    for c in code_only:
        c.payment.refresh_from_db()
        assert c.payment.payment_code == trades[c.trade_no].v_account
    assert SimulatedEcpayDelivery.objects.count() == GatewayCallback.objects.count()
    _assert_one_message_per_final_payment(expected, users, worker_folder)
    _assert_deposits_credited_once(users)
    manage("check_ledger", env=project_environment(DATABASE_URL=database_url()))


def _start(live_app: str, user: User, method: str) -> Customer:
    """A pending ECPay payment (alternately a deposit and an order) whose checkout form the
    customer's browser has posted to ECPay."""
    atm = method == "atm"
    if user.pk % 2:
        order = OrderFactory.create(user=user)
        kind, amount = PaymentKind.ORDER, order.total
    else:
        order, kind, amount = None, PaymentKind.DEPOSIT, Decimal(100 + user.pk)
    payment = payment_start_ecpay(
        user=user,
        kind=kind,
        order=order,
        amount=amount,
        currency="TWD",
        method=PaymentMethod.ATM if atm else PaymentMethod.CARD,
    )
    form = ecpay_checkout_form(
        payment=payment, method=EcpayMethod.ATM if atm else EcpayMethod.CREDIT
    )
    response = requests.post(form.action, data=form.fields, timeout=30)
    assert response.status_code == 200, response.text
    trade = SimulatedEcpayTrade.objects.get(merchant_trade_no=payment.merchant_trade_no)
    return Customer(payment=payment, trade_no=trade.trade_no)


def _press_all(live_app: str, presses: list[tuple[Customer, str]]) -> None:
    """Press the simulator's buttons, several customers at once (the answer comes before the
    notifications go: they leave from the simulator's delivery threads)."""

    def press(customer: Customer, button: str) -> None:
        url = f"{live_app}/simulators/ecpay/trades/{customer.trade_no}/{button}"
        response = requests.post(url, timeout=30, allow_redirects=False)
        assert response.status_code in (200, 302), (url, response.status_code)

    with ThreadPoolExecutor(max_workers=8) as pool:
        for done in [pool.submit(press, customer, button) for customer, button in presses]:
            done.result()


def _settled(expected: dict[int, PaymentStatus]) -> bool:
    """Every payment in its expected status, and told about it when it is a final one."""
    rows = Payment.objects.filter(pk__in=expected).annotate(
        notified=Count("events", filter=Q(events__type__startswith="notified_"))
    )
    return all(
        row.status == expected[row.pk] and (row.status == PaymentStatus.PENDING or row.notified)
        for row in rows
    )


def _pipeline_idle() -> bool:
    """Nothing queued for the worker and nothing taken but not acknowledged (acks are late)."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queued = sum(broker.llen(queue.name) for queue in settings.CELERY_TASK_QUEUES)
    return queued == 0 and broker.hlen("unacked") == 0


def _assert_one_message_per_final_payment(
    expected: dict[int, PaymentStatus], users: list[User], worker_folder: Path
) -> None:
    emails = Counter(
        Notification.objects.filter(
            payment__in=expected, channel=NotificationChannel.EMAIL
        ).values_list("payment_id", flat=True)
    )
    final = {pk for pk, status in expected.items() if status != PaymentStatus.PENDING}
    assert emails == Counter(final)
    for user in users:
        told = Payment.objects.filter(pk__in=final, user=user).count()
        assert emails_to(worker_folder, user.email) == told, user.email


def _assert_deposits_credited_once(users: list[User]) -> None:
    """Each completed deposit is one ledger entry, and each balance is what was paid in."""
    deposits = Payment.objects.filter(user__in=users, kind=PaymentKind.DEPOSIT)
    credited = Counter(
        LedgerEntry.objects.filter(payment__in=deposits).values_list("payment_id", flat=True)
    )
    completed = deposits.filter(status=PaymentStatus.COMPLETED)
    assert credited == Counter(completed.values_list("pk", flat=True))
    for user in users:
        user.refresh_from_db()
        paid_in = completed.filter(user=user).aggregate(total=Sum("amount"))["total"]
        assert user.balance == (paid_in or Decimal(0)), user.email


def test_two_notify_steps_at_once_record_one_notified_event(transactional_db, monkeypatch):
    """Injects: two notify steps for one failed payment at once, as a task redelivered beside
    the first makes them (the storm once made them from duplicates of a failure notification);
    both are held after sending until the other got there too, where two workers meet.

    Must hold: one email and one notified event.
    """
    payment = PaymentFactory.create(status=PaymentStatus.FAILED)
    both_sent = threading.Barrier(2)
    send = notify_payment_event

    def send_then_meet(**kwargs: Any) -> list[Notification]:
        sent = send(**kwargs)
        with suppress(threading.BrokenBarrierError):
            # A fix that serialises the whole step keeps the other one out: no meeting then.
            both_sent.wait(timeout=2)
        return sent

    monkeypatch.setattr(pipeline, "notify_payment_event", send_then_meet)

    run_at_once(lambda: pipeline.notify(payment.pk), threads=2)

    assert Notification.objects.filter(payment=payment, channel="email").count() == 1
    assert payment.events.filter(type="notified_failed").count() == 1
