"""Amazon SQS as the broker (production's other choice, docs/deploy.md), on moto's server.

Both sides are real processes started with production's SQS settings (`CELERY_BROKER_URL=sqs://`
and the queue URL prefix): `celery call` sends the first step of a card payment's pipeline, and
a Celery worker (kombu's SQS consumer, on pycurl) runs the whole pipeline from the queues.
"""

import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import User
from gateways.card.simulator import cards
from payments.models import Payment, PaymentStatus
from tests.aws import REGION
from tests.factories import OrderFactory
from tests.integration.conftest import WORKER_SETTINGS
from tests.processes import PYTHON, ROOT, project_environment, running, wait_for

pytestmark = pytest.mark.integration

QUEUE_PREFIX = "payment-service-ci-"
CONCERNS = ("pipeline", "notifications", "maintenance")
CELERY = [PYTHON, "-m", "celery", "-A", "config"]


@pytest.fixture
def sqs_environment(moto_url: str, card_provider: str, tmp_path: Path) -> dict[str, str]:
    """Production's SQS settings, pointed at moto, with the three queues made as in deploy.md."""
    sqs = boto3.client(
        "sqs",
        region_name=REGION,
        endpoint_url=moto_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    urls = [sqs.create_queue(QueueName=QUEUE_PREFIX + concern)["QueueUrl"] for concern in CONCERNS]
    prefix = urls[0].removesuffix("pipeline")
    database = connection.settings_dict
    return project_environment(
        DATABASE_URL=(
            f"mysql://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:"
            f"{database['PORT']}/{database['NAME']}"
        ),
        CELERY_BROKER_URL="sqs://",
        CELERY_SQS_QUEUE_URL_PREFIX=prefix,
        AWS_REGION=REGION,
        # boto3 reads a service's endpoint from here: moto instead of AWS.
        AWS_ENDPOINT_URL_SQS=moto_url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        CARD_PROVIDER_URL=card_provider,
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(tmp_path / "mail"),
        **WORKER_SETTINGS,
    )


@pytest.fixture
def sqs_worker(sqs_environment: dict[str, str], tmp_path: Path) -> Iterator[Path]:
    log = tmp_path / "worker.log"
    # The command production's worker service runs (docs/deploy.md).
    with running(
        [*CELERY, "worker", "-Q", ",".join(CONCERNS), "--loglevel", "INFO", "--concurrency", "2"],
        env=sqs_environment,
        log=log,
        ready=lambda: log.exists() and "ready." in log.read_text(),
    ):
        yield log


@pytest.mark.django_db(transaction=True)
def test_a_card_payment_runs_its_whole_pipeline_through_sqs(
    customer: User, api_client_for, no_pipeline, sqs_environment, sqs_worker
):
    order = OrderFactory.create(user=customer)
    response = api_client_for(customer).post(
        "/api/v1/payments/",
        {
            "kind": "order",
            "order": order.number,
            "amount": str(order.total),
            "currency": "TWD",
            "card": {
                "number": cards.APPROVE,
                "exp_month": 2,
                "exp_year": timezone.localdate().year + 3,
                "cvc": "321",
            },
        },
        format="json",
    )
    assert response.status_code == 202, response.json()
    payment = Payment.objects.get(public_id=response.json()["id"])

    # What the web tier does after the commit (here kept from the test's own broker), sent by a
    # process with production's SQS settings.
    sent = subprocess.run(
        [*CELERY, "call", "payments.tasks.payment_validate", "--args", f"[{payment.pk}]"],
        cwd=ROOT,
        env=sqs_environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sent.returncode == 0, sent.stderr

    def notified() -> bool:
        payment.refresh_from_db()
        return payment.events.filter(type__startswith="notified_").exists()

    wait_for(notified, timeout=60, what=f"{payment.public_id} to complete over SQS")
    assert payment.status == PaymentStatus.COMPLETED
    # The worker took the pipeline's task from SQS and ran every step in it.
    log = sqs_worker.read_text()
    assert re.search(r"transport:\s+sqs://", log)
    assert "payments.tasks.payment_validate[" in log
    steps = set(payment.events.values_list("type", flat=True))
    assert {"validated", "charge_succeeded", "completed", "notified_completed"} <= steps


def test_the_queue_depth_command_reads_sqs(sqs_environment):
    """`manage.py queue_depth` with production's SQS settings: SQS's count of visible messages."""
    sqs = boto3.client(
        "sqs",
        region_name=REGION,
        endpoint_url=sqs_environment["AWS_ENDPOINT_URL_SQS"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    # Queues of its own: a worker stopped a moment ago may still hold a long poll on the
    # shared ones, and take a message from under the count.
    prefix = f"payment-service-depth-{uuid.uuid4().hex[:8]}-"
    urls = [sqs.create_queue(QueueName=prefix + concern)["QueueUrl"] for concern in CONCERNS]
    environment = {
        **sqs_environment,
        "CELERY_SQS_QUEUE_URL_PREFIX": urls[0].removesuffix("pipeline"),
    }
    url = urls[1]
    for number in range(4):
        sqs.send_message(QueueUrl=url, MessageBody=f"test message {number}")

    shown = subprocess.run(
        [PYTHON, "manage.py", "queue_depth"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert shown.returncode == 0, shown.stderr
    assert "notifications: 4 waiting" in shown.stdout.splitlines()
    assert [line.split(":")[0] for line in shown.stdout.splitlines()] == list(CONCERNS)
