"""A real Celery worker process on the real broker, and the app served by gunicorn, against the
test database.

Integration tests run on the MariaDB + Redis tier only. The test process queues tasks on Redis
(eager mode is off for these tests) and the worker, a separate process, runs them.
"""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from tests.aws import Topic, create_topic
from tests.processes import PYTHON, free_port, gunicorn, project_environment, running

WORKER_SETTINGS = {
    # Short waits so a test sees retries, pauses and the janitor within seconds.
    "PIPELINE_RETRY_DELAY_SECONDS": "0.2",
    "PIPELINE_RETRY_JITTER_SECONDS": "0.1",
    "PIPELINE_PAUSED_RECHECK_SECONDS": "0.5",
    "CARD_PROVIDER_TIMEOUT_SECONDS": "0.5",
    "OPERATION_SETTLE_AFTER_SECONDS": "0",
    # The journeys' transient cards add up over a session: no breaker trips under them. Its
    # own journey runs a worker of its own (test_circuit_breaker.py).
    "GATEWAY_BREAKER_FAILURES": "1000",
}


def database_url() -> str:
    """The test database as DATABASE_URL, for the processes a test starts."""
    database = connection.settings_dict
    return (
        f"mysql://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:"
        f"{database['PORT']}/{database['NAME']}"
    )


@pytest.fixture(scope="session")
def worker_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("worker")


@pytest.fixture(scope="session")
def sns_topic(moto_url: str) -> Topic:
    """The SNS topic the worker publishes payment events to (on moto), for the session."""
    return create_topic(moto_url=moto_url, name="payment-events")


@pytest.fixture
def sns_messages(sns_topic: Topic) -> Callable[[str], list[dict[str, Any]]]:
    """Read back what the worker published about one payment (the topic's queue is shared)."""
    seen: list[dict[str, Any]] = []

    def about(payment_public_id: str) -> list[dict[str, Any]]:
        seen.extend(message["body"] for message in sns_topic.published())
        return [body for body in seen if body["payment_id"] == payment_public_id]

    return about


# What /metrics on the session's gunicorn answers (tests/integration/test_metrics_processes.py).
METRICS_TOKEN = "integration-metrics-token-0123456789"


@pytest.fixture(scope="session")
def worker_metrics_port() -> int:
    """Where the session's worker serves its pool's metrics (METRICS_PORT)."""
    return free_port()


@pytest.fixture(scope="session")
def live_worker(
    django_db_setup: None,
    card_simulator_url: str,
    worker_folder: Path,
    moto_url: str,
    sns_topic: Topic,
    worker_metrics_port: int,
) -> Iterator[Path]:
    """Start the worker once for the session; yields the file its log is written to."""
    env = project_environment(
        # As the image runs it: its pool's processes count into one folder, served on a port.
        PROMETHEUS_MULTIPROC_DIR=str(worker_folder / "prometheus"),
        METRICS_PORT=str(worker_metrics_port),
        DATABASE_URL=database_url(),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        CARD_PROVIDER_URL=card_simulator_url,
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(worker_folder / "mail"),
        NOTIFICATIONS_SNS_TOPIC_ARN=sns_topic.arn,
        AWS_ENDPOINT_URL_SNS=moto_url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        **WORKER_SETTINGS,
    )
    log = worker_folder / "worker.log"
    with running(
        [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "4",
            "--without-mingle",
            "--without-gossip",
        ],
        env=env,
        log=log,
        ready=lambda: log.exists() and "ready." in log.read_text(),
    ):
        yield log


@pytest.fixture
def real_worker(
    live_worker: Path, transactional_db: None, card_provider: str, settings
) -> Iterator[Path]:
    """Tasks queued by this test go to Redis and run in the worker process."""
    for name, value in WORKER_SETTINGS.items():
        setattr(settings, name, float(value))
    celery_app.conf.task_always_eager = False
    try:
        yield live_worker
    finally:
        celery_app.conf.task_always_eager = True


def emails_to(worker_folder: Path, address: str) -> int:
    """Messages the worker sent to `address` (the file backend writes them under mail/)."""
    mail = worker_folder / "mail"
    if not mail.exists():
        return 0
    return sum(
        message.count(f"\nTo: {address}\n")
        for message in (path.read_text() for path in mail.iterdir())
    )


@pytest.fixture(scope="session")
def live_app_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's gunicorn's log and metrics folder."""
    return tmp_path_factory.mktemp("live-app")


@pytest.fixture(scope="session")
def live_app_url(django_db_setup: None, live_app_folder: Path) -> Iterator[str]:
    """The app as production serves it (gunicorn, config/gunicorn.py: several processes with
    threads), on the test database and the test broker, for the session; yields its base URL.

    The ECPay simulator is served by it too, so ECPay's notifications really travel over HTTP
    back to it, from the simulator's delivery threads, and are redelivered within a second when
    not answered `1|OK`. The pipeline steps they queue run in the session's worker.
    """
    folder = live_app_folder
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = project_environment(
        PROMETHEUS_MULTIPROC_DIR=str(folder / "prometheus"),
        METRICS_TOKEN=METRICS_TOKEN,
        DATABASE_URL=database_url(),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        SIMULATORS_ENABLED="true",
        SITE_URL=base,
        ECPAY_BASE_URL=f"{base}/simulators/ecpay",
        ECPAY_SIMULATOR_REDELIVERY_SECONDS="1",
        ECPAY_SIMULATOR_REDELIVERIES="4",
        PORT=str(port),
        WEB_CONCURRENCY="3",
        GUNICORN_THREADS="4",
    )
    # No recycling after max_requests: the simulator's delivery threads live in these
    # processes, and a recycled one would take its undelivered notifications with it.
    with gunicorn(
        *("-c", "config/gunicorn.py", "--max-requests", "0"),
        env=env,
        log=folder / "gunicorn.log",
        port=port,
    ):
        yield base
