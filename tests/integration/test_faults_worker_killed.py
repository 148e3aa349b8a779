"""A Celery worker killed with SIGKILL while a card charge is in flight.

The pipeline runs on a worker of its own (tests/integration/crash_worker.py: its own queue on
Redis, a visibility timeout of seconds) against a card simulator whose "timeout" card keeps the
charge request open for half a minute, so the kill always lands while the provider has
recorded the charge and the worker has not heard back. What must hold afterwards: the message
comes back (acks_late), the payment completes, the card is charged once, the customer is told
once.
"""

import os
import signal
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing
from pathlib import Path
from subprocess import Popen

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from accounts.models import User
from config.celery import app as celery_app
from gateways.base import CardDetails
from gateways.card.simulator import cards
from payments.models import (
    GatewayOperation,
    OperationStatus,
    Payment,
    PaymentKind,
    PaymentStatus,
)
from payments.services import payment_create_with_card
from payments.tasks import operations_settle_unknown, payment_validate
from tests.factories import OrderFactory, UserFactory
from tests.integration.conftest import WORKER_SETTINGS, database_url, emails_to
from tests.processes import PYTHON, card_simulator, project_environment, running, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.mysql]

# Long enough that no kill can miss the charge in flight; the worker waits longer still.
CHARGE_SECONDS = "30"
VISIBILITY_TIMEOUT_SECONDS = "8"
# The crash worker's queue: nothing else consumes it.
QUEUE = "faults"

WorkerStarter = Callable[[str], AbstractContextManager[Popen[bytes]]]


@pytest.fixture(scope="module")
def slow_card_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A card simulator whose "timeout" card answers after CHARGE_SECONDS; yields its folder
    (its database is the provider's own record of the charges it made)."""
    folder = tmp_path_factory.mktemp("slow-card-simulator")
    with card_simulator(folder, slow_seconds=CHARGE_SECONDS) as url:
        (folder / "url").write_text(url)
        yield folder


@pytest.fixture
def start_worker(
    slow_card_simulator: Path, transactional_db: None, tmp_path: Path, settings
) -> Iterator[WorkerStarter]:
    """Start a crash worker (a context manager, given the name of its log); tasks this test
    queues go to Redis, for it."""
    settings.CARD_PROVIDER_URL = (slow_card_simulator / "url").read_text()
    env = project_environment(
        DATABASE_URL=database_url(),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        CARD_PROVIDER_URL=settings.CARD_PROVIDER_URL,
        CRASH_WORKER_QUEUE=QUEUE,
        CRASH_WORKER_VISIBILITY_TIMEOUT_SECONDS=VISIBILITY_TIMEOUT_SECONDS,
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(tmp_path / "mail"),
        DJANGO_LOG_FORMAT="plain",
        # The charge is in flight for CHARGE_SECONDS, never timed out by the worker.
        **{**WORKER_SETTINGS, "CARD_PROVIDER_TIMEOUT_SECONDS": "120"},
    )

    def start(log_name: str) -> AbstractContextManager[Popen[bytes]]:
        log = tmp_path / log_name
        return running(
            [
                *(PYTHON, "-m", "celery", "-A", "tests.integration.crash_worker", "worker"),
                *("--loglevel", "INFO", "--concurrency", "1", "--pool", "prefork"),
                *("--without-mingle", "--without-gossip", "--hostname", f"{log_name}@%h"),
            ],
            env=env,
            log=log,
            ready=lambda: log.exists() and "ready." in log.read_text(),
        )

    celery_app.conf.task_always_eager = False
    try:
        yield start
    finally:
        celery_app.conf.task_always_eager = True
        # Sending to QUEUE made this process's app declare it: a worker started from this app
        # later (or a test reading its queues) must see only the configured ones.
        celery_app.amqp.queues.pop(QUEUE, None)


def test_a_worker_killed_mid_charge_completes_after_a_restart_charging_and_notifying_once(
    start_worker, slow_card_simulator, tmp_path
):
    """Injects: SIGKILL to the whole worker (its process group: main process and pool child)
    while the charge request is in flight; the provider has recorded the charge, the worker
    never hears the answer and never acknowledges the message.

    Must hold: Redis hands the unacknowledged message to a restarted worker once the visibility
    timeout passes; the rerun charges nothing (the charge's outcome is unknown, not retried);
    the janitor settles it by asking the provider; the payment completes with one charge at the
    provider, one operation, one transition to each status, one email, one notified event.
    """
    payment = _card_payment()

    with start_worker("killed.log") as worker:
        sent = payment_validate.apply_async((payment.pk,), queue=QUEUE)
        _wait_for_the_charge_in_flight(payment, slow_card_simulator)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)

    assert _unacknowledged(sent.id), "the killed worker's message is not waiting for redelivery"
    with start_worker("restarted.log"):
        wait_for(
            lambda: f"[{sent.id}] succeeded" in (tmp_path / "restarted.log").read_text(),
            timeout=60,
            what="the restarted worker to run the redelivered message",
        )
        payment.refresh_from_db()
        assert payment.status == PaymentStatus.PROCESSING  # the rerun did not charge again
        assert _provider_charges(slow_card_simulator, payment) == 1

        operations_settle_unknown.apply_async(queue=QUEUE)
        _wait_until_notified(payment)
        wait_for(lambda: emails_to(tmp_path, payment.user.email) >= 1, timeout=20, what="the email")

    _assert_completed_once(payment, slow_card_simulator, tmp_path)


def test_a_pool_process_killed_mid_charge_is_requeued_by_its_worker_charging_and_notifying_once(
    start_worker, slow_card_simulator, tmp_path
):
    """Injects: SIGKILL to the prefork pool process running the task, mid-charge; the worker's
    main process lives on.

    Must hold: the main process rejects the message and puts it back on the queue at once
    (task_reject_on_worker_lost, no visibility timeout to wait for), a new pool process reruns
    it without charging again, and once the janitor asks the provider the payment completes
    with one charge, one transition to each status, one email, one notified event.
    """
    payment = _card_payment()

    with start_worker("worker.log") as worker:
        log = tmp_path / "worker.log"
        sent = payment_validate.apply_async((payment.pk,), queue=QUEUE)
        _wait_for_the_charge_in_flight(payment, slow_card_simulator)
        (child,) = _children(worker.pid)
        os.kill(child, signal.SIGKILL)

        wait_for(
            lambda: log.read_text().count(f"[{sent.id}] succeeded") == 1,
            timeout=60,
            what="the requeued message to run again in a new pool process",
        )
        assert "WorkerLostError" in log.read_text()
        payment.refresh_from_db()
        assert payment.status == PaymentStatus.PROCESSING
        assert _provider_charges(slow_card_simulator, payment) == 1

        operations_settle_unknown.apply_async(queue=QUEUE)
        _wait_until_notified(payment)
        wait_for(lambda: emails_to(tmp_path, payment.user.email) >= 1, timeout=20, what="the email")

    _assert_completed_once(payment, slow_card_simulator, tmp_path)


def _card_payment() -> Payment:
    """A pending order payment with the "timeout" card, not yet queued anywhere."""
    customer: User = UserFactory.create()
    order = OrderFactory.create(user=customer)
    return payment_create_with_card(
        user=customer,
        kind=PaymentKind.ORDER,
        order=order,
        amount=order.total,
        currency=order.currency,
        card=CardDetails(
            number=cards.TIMEOUT_AFTER_CHARGE,
            exp_month=2,
            exp_year=timezone.localdate().year + 3,
            cvc="321",
        ),
    )


def _wait_for_the_charge_in_flight(payment: Payment, simulator: Path) -> None:
    """Until the provider has recorded the charge and the worker still waits for its answer."""
    wait_for(
        lambda: _provider_charges(simulator, payment) == 1,
        timeout=60,
        what="the provider to record the charge",
    )
    operation = GatewayOperation.objects.get(payment=payment)
    assert operation.status == OperationStatus.PENDING


def _provider_charges(simulator: Path, payment: Payment) -> int:
    """Charges the provider made for the payment, from the simulator's own database."""
    with closing(sqlite3.connect(simulator / "simulator.sqlite3")) as database:
        (count,) = database.execute(
            "SELECT COUNT(*) FROM gateways_simulatedcharge WHERE description = ?",
            (f"Payment {payment.public_id}",),
        ).fetchone()
    return int(count)


def _unacknowledged(task_id: str) -> bool:
    """Whether Redis holds the message as delivered and not acknowledged (kombu's `unacked`)."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    return any(task_id.encode() in message for message in broker.hvals("unacked"))


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def _wait_until_notified(payment: Payment) -> None:
    def notified() -> bool:
        payment.refresh_from_db()
        return payment.events.filter(type__startswith="notified_").exists()

    wait_for(notified, timeout=60, what=f"{payment.public_id} to be notified")


def _assert_completed_once(payment: Payment, simulator: Path, mail_folder: Path) -> None:
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert _provider_charges(simulator, payment) == 1
    operation = GatewayOperation.objects.get(payment=payment)
    assert operation.status == OperationStatus.SUCCEEDED
    assert payment.gateway_reference == operation.external_id
    transitions = list(
        payment.events.exclude(to_status="").values_list("to_status", flat=True).order_by("pk")
    )
    assert transitions == [PaymentStatus.PENDING, PaymentStatus.PROCESSING, PaymentStatus.COMPLETED]
    assert payment.events.filter(type="notified_completed").count() == 1
    assert emails_to(mail_folder, payment.user.email) == 1
