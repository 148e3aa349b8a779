"""Celery in production: a queue per concern, time limits, and a visibility timeout that no
retry wait outlasts."""

import json
import subprocess

import pytest

from config.celery import app
from tests.processes import PYTHON, ROOT, project_environment


@pytest.fixture(autouse=True, scope="module")
def _tasks_discovered() -> None:
    # Autodiscovery is lazy: a worker imports every app's tasks module when it starts.
    app.loader.import_default_modules()


def queue_of(task_name: str) -> str:
    route = app.amqp.router.route({}, task_name)
    return str(route["queue"].name)


@pytest.mark.parametrize(
    ("task_name", "queue"),
    [
        ("payments.tasks.payment_validate", "pipeline"),
        ("payments.tasks.payment_process", "pipeline"),
        ("payments.tasks.payment_notify", "pipeline"),
        ("payments.tasks.payment_resume", "pipeline"),
        ("payments.tasks.refund_process", "pipeline"),
        ("notifications.tasks.notifications_retry_failed", "notifications"),
        ("payments.tasks.operations_settle_unknown", "maintenance"),
        ("payments.tasks.ecpay_reconcile", "maintenance"),
        ("payments.tasks.payments_expire_pending", "maintenance"),
        ("payments.tasks.payments_resume_stranded", "maintenance"),
        ("core.tasks.idempotency_keys_purge", "maintenance"),
        ("gateways.tasks.callbacks_purge_refused", "maintenance"),
    ],
)
def test_each_task_goes_to_the_queue_of_its_concern(task_name, queue):
    assert task_name in app.tasks
    assert queue_of(task_name) == queue


def test_a_worker_started_without_a_queue_list_consumes_every_queue():
    assert set(app.amqp.queues) == {"pipeline", "notifications", "maintenance"}


def test_every_beat_task_exists_and_every_task_has_a_time_limit():
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks
    assert 0 < app.conf.task_soft_time_limit < app.conf.task_time_limit


def test_a_visibility_timeout_shorter_than_a_retry_wait_is_refused_at_start():
    done = subprocess.run(
        [PYTHON, "manage.py", "check"],
        cwd=ROOT,
        env=project_environment(
            CELERY_VISIBILITY_TIMEOUT_SECONDS="20", PIPELINE_PAUSED_RECHECK_SECONDS="30"
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode != 0
    assert "CELERY_VISIBILITY_TIMEOUT_SECONDS (20) must exceed" in done.stderr


def test_a_stranded_payment_wait_shorter_than_a_pipeline_task_is_refused_at_start():
    done = subprocess.run(
        [PYTHON, "manage.py", "check"],
        cwd=ROOT,
        env=project_environment(PIPELINE_STRANDED_AFTER_SECONDS="60", CELERY_TASK_TIME_LIMIT="90"),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode != 0
    assert "PIPELINE_STRANDED_AFTER_SECONDS (60) must exceed" in done.stderr


def test_the_sqs_broker_needs_the_queue_url_prefix():
    done = subprocess.run(
        [PYTHON, "manage.py", "check"],
        cwd=ROOT,
        env=project_environment(CELERY_BROKER_URL="sqs://"),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode != 0
    assert "sqs:// needs CELERY_SQS_QUEUE_URL_PREFIX" in done.stderr


def test_the_sqs_broker_names_one_existing_queue_per_concern():
    prefix = "https://sqs.ap-northeast-1.amazonaws.com/123456789012/payments-"
    done = subprocess.run(
        [
            PYTHON,
            "-c",
            "from django.conf import settings as s; import django; django.setup(); "
            "import json; print(json.dumps(s.CELERY_BROKER_TRANSPORT_OPTIONS))",
        ],
        cwd=ROOT,
        env=project_environment(CELERY_BROKER_URL="sqs://", CELERY_SQS_QUEUE_URL_PREFIX=prefix),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    options = json.loads(done.stdout)
    assert options["predefined_queues"] == {
        concern: {"url": prefix + concern}
        for concern in ("pipeline", "notifications", "maintenance")
    }
    assert options["visibility_timeout"] == 3600
    assert options["region"] == "ap-northeast-1"
