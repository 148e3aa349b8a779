"""Card payments through the API, the pipeline running in a real worker on Redis and MariaDB."""

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import redis
from celery.signals import before_task_publish
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from accounts.models import User
from gateways.card import get_card_gateway
from gateways.card.simulator import cards
from gateways.models import Gateway
from gateways.services import gateway_set_paused
from orders.models import OrderStatus
from payments.models import Payment, PaymentStatus
from payments.tasks import (
    operations_settle_unknown,
    payment_notify,
    payment_process,
    payment_update,
    payment_validate,
)
from tests.factories import OrderFactory, UserFactory
from tests.integration.conftest import emails_to
from tests.processes import wait_for

pytestmark = pytest.mark.integration

FINAL = (PaymentStatus.COMPLETED, PaymentStatus.FAILED)


@pytest.fixture
def customer(real_worker) -> User:
    return UserFactory.create()


def pay(api_client_for, customer: User, number: str, *, deposit: str | None = None) -> Payment:
    body: dict = {
        "currency": "TWD",
        "card": {
            "number": number,
            "exp_month": 2,
            "exp_year": timezone.localdate().year + 3,
            "cvc": "321",
        },
    }
    if deposit:
        body.update(kind="deposit", amount=deposit)
    else:
        order = OrderFactory.create(user=customer)
        body.update(kind="order", order=order.number, amount=str(order.total))
    response = api_client_for(customer).post("/api/v1/payments/", body, format="json")
    assert response.status_code == 202, response.json()
    return Payment.objects.get(public_id=response.json()["id"])


def settled(payment: Payment, statuses=FINAL, timeout: float = 60) -> Payment:
    def done() -> bool:
        payment.refresh_from_db()
        return (
            payment.status in statuses
            and payment.events.filter(type__startswith="notified_").exists()
        )

    wait_for(done, timeout=timeout, what=f"{payment.public_id} to reach {statuses}")
    return payment


def charges_at_provider(payment: Payment) -> int:
    gateway = get_card_gateway()
    return sum(
        gateway.find_charge(op.idempotency_key) is not None for op in payment.operations.all()
    )


def test_a_card_payment_completes_on_the_worker_with_one_email_and_one_sns_message(
    customer, api_client_for, worker_folder, sns_messages
):
    payment = settled(pay(api_client_for, customer, cards.APPROVE))

    assert payment.status == PaymentStatus.COMPLETED
    assert payment.order.status == OrderStatus.PAID
    assert charges_at_provider(payment) == 1
    wait_for(lambda: emails_to(worker_folder, customer.email) == 1, timeout=20, what="the email")
    messages = sns_messages(payment.public_id)
    assert [m["event"] for m in messages] == ["completed"]


WORKER_POOL_PROCESSES = 4  # tests/integration/conftest.py starts it with --concurrency 4


def test_the_worker_keeps_its_database_connections_from_task_to_task(customer, api_client_for):
    # Celery's Django fixup would reconnect for every task (config/celery.py): at least one
    # connection per payment. Reused, each pool process opens at most one, when the one it
    # held has outlived CONN_MAX_AGE.
    payments = 3 * WORKER_POOL_PROCESSES
    before = _connections_opened()

    for payment in [pay(api_client_for, customer, cards.APPROVE) for _ in range(payments)]:
        assert settled(payment).status == PaymentStatus.COMPLETED

    assert _connections_opened() - before <= WORKER_POOL_PROCESSES


def test_a_worker_whose_idle_connections_were_dropped_reconnects_for_its_next_task(
    customer, api_client_for
):
    # Kept connections can die between tasks (a database failover, a restart, wait_timeout):
    # the next task checks the one it is given before using it, and opens a new one.
    assert settled(pay(api_client_for, customer, cards.APPROVE)).status == PaymentStatus.COMPLETED
    killed = _kill_idle_connections()
    assert killed, "the worker kept no connection to drop"

    payment = settled(pay(api_client_for, customer, cards.APPROVE))

    assert payment.status == PaymentStatus.COMPLETED
    assert not payment.events.filter(is_error=True).exists()


def _kill_idle_connections() -> list[int]:
    """KILL every other connection to the test database that is waiting for its next query."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ID FROM information_schema.PROCESSLIST"
            " WHERE DB = DATABASE() AND COMMAND = 'Sleep' AND ID <> CONNECTION_ID()"
        )
        idle = [row[0] for row in cursor.fetchall()]
        for connection_id in idle:
            cursor.execute(f"KILL CONNECTION {int(connection_id)}")
    return idle


def _connections_opened() -> int:
    """Connections MariaDB has accepted since it started (from anyone: the worker is the only
    other process that connects while this test runs)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW GLOBAL STATUS LIKE 'Connections'")
        return int(cursor.fetchone()[1])


def test_two_transient_errors_then_success_on_the_worker(customer, api_client_for):
    payment = settled(pay(api_client_for, customer, cards.TRANSIENT_TWICE))

    assert payment.status == PaymentStatus.COMPLETED
    assert payment.attempts == 3
    assert payment.events.filter(type="charge_attempt").count() == 3
    assert charges_at_provider(payment) == 1


def test_a_declined_card_fails_on_the_worker(customer, api_client_for, worker_folder):
    payment = settled(pay(api_client_for, customer, cards.DECLINE))

    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_reason == "declined: card_declined"
    assert payment.needs_review is False
    wait_for(lambda: emails_to(worker_folder, customer.email) == 1, timeout=20, what="the email")


def test_a_timed_out_charge_stays_unknown_until_the_janitor_settles_it(customer, api_client_for):
    payment = pay(api_client_for, customer, cards.TIMEOUT_AFTER_CHARGE)
    wait_for(
        lambda: payment.operations.filter(status="unknown").exists(),
        timeout=30,
        what="the charge to time out",
    )
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PROCESSING

    operations_settle_unknown.delay()

    payment = settled(payment)
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.operations.get().status == "succeeded"
    assert charges_at_provider(payment) == 1


def test_a_crashed_pipeline_is_a_dead_letter_and_reprocess_completes_it_charging_once(
    customer, api_client_for
):
    payment = pay(api_client_for, customer, cards.APPROVE, deposit="300")
    # A data fault the update step trips on: the balance's currency no longer matches.
    User.objects.filter(pk=customer.pk).update(balance_currency="USD")

    payment = settled(payment)
    assert (payment.status, payment.needs_review) == (PaymentStatus.FAILED, True)
    assert "update step crashed: CurrencyMismatch" in payment.failure_reason

    User.objects.filter(pk=customer.pk).update(balance_currency="TWD")  # the fault is fixed
    call_command("reprocess_payments")  # queues the payment on Redis, for the worker

    def completed() -> bool:
        payment.refresh_from_db()
        return payment.status == PaymentStatus.COMPLETED

    wait_for(completed, timeout=60, what="the reprocessed payment to complete")
    customer.refresh_from_db()
    assert str(customer.balance) == "300.00"
    assert payment.operations.count() == 1
    assert charges_at_provider(payment) == 1


def test_the_same_tasks_delivered_twice_charge_once_and_notify_once(
    customer, api_client_for, worker_folder, sns_messages
):
    payment = pay(api_client_for, customer, cards.APPROVE)
    payment_validate.delay(payment.pk)  # a duplicate delivery racing the first

    payment = settled(payment)
    for task in (payment_validate, payment_process, payment_update, payment_notify):
        task.delay(payment.pk)  # and every step again after the end
    payment_notify.delay(payment.pk)
    wait_for(lambda: emails_to(worker_folder, customer.email) >= 1, timeout=20, what="the email")
    # Give the redelivered tasks time to do anything they (wrongly) would.
    wait_for(lambda: _queue_empty(), timeout=20, what="the queue to drain")

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.operations.count() == 1
    assert charges_at_provider(payment) == 1
    assert emails_to(worker_folder, customer.email) == 1
    assert len(sns_messages(payment.public_id)) == 1


def test_a_paused_gateway_holds_payments_until_it_is_unpaused(customer, api_client_for):
    gateway_set_paused(gateway=Gateway.CARD, paused=True, by=None, reason="provider incident")
    payment = pay(api_client_for, customer, cards.APPROVE)

    wait_for(
        lambda: payment.events.filter(type="waiting_gateway_paused").count() >= 2,
        timeout=30,
        what="the payment to wait for the gateway",
    )
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert payment.operations.count() == 0

    gateway_set_paused(gateway=Gateway.CARD, paused=False, by=None)

    payment = settled(payment)
    assert payment.status == PaymentStatus.COMPLETED


def test_the_card_number_is_nowhere_in_the_database_logs_or_broker_messages(
    customer, api_client_for, live_worker, caplog
):
    published: list[str] = []

    def capture(body=None, headers=None, **kwargs):
        published.append(json.dumps([body, headers], default=str))

    before_task_publish.connect(capture, weak=False)
    try:
        number = cards.APPROVE
        payment = settled(pay(api_client_for, customer, number))
        settled(pay(api_client_for, customer, cards.DECLINE))
    finally:
        before_task_publish.disconnect(capture)

    assert payment.status == PaymentStatus.COMPLETED
    assert published, "no message was captured"
    database = connection.settings_dict
    dump = subprocess.run(
        [
            "mariadb-dump",
            f"-u{database['USER']}",
            f"-p{database['PASSWORD']}",
            f"-h{database['HOST']}",
            f"-P{database['PORT']}",
            "--skip-comments",
            database["NAME"],
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    redis_dump = _redis_contents()
    assert "accounts_user" in dump  # the dump is real
    for where, text in {
        "database": dump,
        "worker log": Path(live_worker).read_text(),
        "broker messages": "\n".join(published),
        "redis": redis_dump,
        "test log": caplog.text,
    }.items():
        for variant in (number, cards.DECLINE, "4242 4242 4242 4242"):
            assert variant not in text, f"a card number is in the {where}"


def _queue_empty() -> bool:
    """Nothing waiting on the queue and nothing taken but not yet acknowledged (acks are late,
    so a task still running is in Celery's `unacked` hash)."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queued = sum(broker.llen(queue.name) for queue in settings.CELERY_TASK_QUEUES)
    return queued == 0 and broker.hlen("unacked") == 0


def _redis_contents() -> str:
    """Everything stored in the broker's database right now: queued and unacknowledged messages."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL, decode_responses=True)
    parts: list[Any] = []
    for key in broker.scan_iter():
        kind = broker.type(key)
        if kind == "list":
            parts += broker.lrange(key, 0, -1)
        elif kind == "hash":
            parts += broker.hvals(key)
        elif kind == "string":
            parts.append(broker.get(key) or "")
    return " ".join(map(str, parts))
