"""A gateway's circuit breaker with a real worker (issue 22, 7): the card provider goes away for
the worker, three transient failures pause the card gateway by itself and the managers are
emailed, the payment waits instead of spending its retries; the provider comes back, the probe
task finds it answering, the breaker closes and the payment completes, charged once.

The worker is one of this test's own, on a Redis database of its own, with a breaker set to 3
failures (the session's worker keeps the default, which no other journey reaches), and it reaches
the card simulator through a TCP proxy the test cuts and restores.
"""

import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth.models import Group

from accounts.roles import MANAGERS
from gateways.card.simulator import cards
from gateways.models import Gateway, GatewaySwitch
from payments.models import Payment, PaymentStatus
from tests.factories import UserFactory
from tests.integration.conftest import WORKER_SETTINGS, database_url, emails_to
from tests.integration.test_card_journeys import charges_at_provider, pay, settled
from tests.processes import PYTHON, ROOT, project_environment, running, wait_for
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration

CELERY = [PYTHON, "-m", "celery", "-A", "config"]


@pytest.fixture
def card_proxy(card_provider: str) -> Iterator[TcpProxy]:
    upstream = urlsplit(card_provider)
    proxy = TcpProxy(upstream=(upstream.hostname or "127.0.0.1", upstream.port or 80))
    proxy.restore()
    yield proxy
    proxy.cut()


def through(proxy: TcpProxy, url: str) -> str:
    """`url`, reached through `proxy`."""
    return urlsplit(url)._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()


def own_broker() -> str:
    """The tier's Redis, on a database no other worker reads."""
    base, database = settings.CELERY_BROKER_URL.rsplit("/", 1)
    return f"{base}/{(int(database) + 1) % 16}"


@pytest.fixture
def breaker_worker(transactional_db, card_proxy: TcpProxy, tmp_path: Path) -> Iterator[dict]:
    env = project_environment(
        DATABASE_URL=database_url(),
        CELERY_BROKER_URL=own_broker(),
        CARD_PROVIDER_URL=through(card_proxy, settings.CARD_PROVIDER_URL),
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(tmp_path / "mail"),
        **{
            **WORKER_SETTINGS,
            "GATEWAY_BREAKER_FAILURES": "3",
            "GATEWAY_BREAKER_WINDOW_SECONDS": "60",
            "GATEWAY_BREAKER_PROBE_SECONDS": "0",
        },
    )
    log = tmp_path / "worker.log"
    with running(
        [
            *CELERY,
            "worker",
            "-Q",
            "pipeline,notifications,maintenance",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "--without-mingle",
            "--without-gossip",
        ],
        env=env,
        log=log,
        ready=lambda: log.exists() and "ready." in log.read_text(),
    ):
        yield env


def call(env: dict, task: str, *args: int) -> None:
    """Queue `task` as the web tier or the beat would, on the worker's broker."""
    sent = subprocess.run(
        [*CELERY, "call", task, "--args", str(list(args))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sent.returncode == 0, sent.stderr


def test_the_card_gateway_pauses_by_itself_and_resumes_when_it_answers(
    breaker_worker, card_proxy, customer, api_client_for, no_pipeline, tmp_path
):
    manager = UserFactory.create(email="oncall@example.com", is_staff=True)
    manager.groups.add(Group.objects.get(name=MANAGERS))
    card_proxy.cut()  # the worker's way to the provider: gone
    payment = pay(api_client_for, customer, cards.APPROVE, deposit="300")
    call(breaker_worker, "payments.tasks.payment_validate", payment.pk)

    def waiting() -> bool:
        return payment.events.filter(type="waiting_gateway_paused").exists()

    wait_for(waiting, timeout=60, what="the payment to wait for the paused gateway")
    switch = GatewaySwitch.objects.get(gateway=Gateway.CARD)
    assert (switch.paused, switch.failures) == (False, 3)
    assert switch.tripped_at is not None
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PROCESSING  # waiting, never failed
    assert payment.events.filter(type="retry_scheduled").count() == 3
    wait_for(lambda: emails_to(tmp_path, manager.email) == 1, timeout=20, what="the alert")

    card_proxy.restore()
    call(breaker_worker, "payments.tasks.gateways_probe")  # as the beat does

    payment = settled(payment)
    assert payment.status == PaymentStatus.COMPLETED
    assert charges_at_provider(payment) == 1
    closed = GatewaySwitch.objects.get(gateway=Gateway.CARD)
    assert (closed.tripped_at, closed.failures) == (None, 0)
    wait_for(lambda: emails_to(tmp_path, manager.email) == 2, timeout=20, what="the all-clear")
    assert Payment.objects.get(pk=payment.pk).user.balance == 300
