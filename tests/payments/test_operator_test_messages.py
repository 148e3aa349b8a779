"""The operators' test messages (seed 002, issue 22, 7): a test payment sent through the real
path, and each queue's depth read from the real broker."""

import logging
import uuid
from decimal import Decimal

import pytest
from celery import current_app
from django.core.management import call_command
from django.core.management.base import CommandError
from kombu import Queue

from payments.models import Payment, PaymentStatus
from tests.factories import UserFactory
from tests.processes import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_user(db):
    return UserFactory.create(email="ops-test@example.com")


def test_a_test_payment_runs_the_whole_pipeline(
    operator_user, card_provider, capsys, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("enqueue_test_payment", "--user", "OPS-TEST@example.com", "--amount", "150")

    payment = Payment.objects.get()
    assert (payment.status, payment.amount) == (PaymentStatus.COMPLETED, Decimal("150"))
    assert payment.events.filter(type="validated").exists()
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    operator_user.refresh_from_db()
    assert operator_user.balance == Decimal("150")
    out = capsys.readouterr().out
    assert f"queued {payment.public_id}" in out
    assert "4242424242424242" not in out
    assert len(mailoutbox) == 1


def test_a_transient_test_card_is_retried_by_the_pipeline(
    operator_user, card_provider, django_capture_on_commit_callbacks, settings
):
    settings.PIPELINE_RETRY_DELAY_SECONDS = 0
    settings.PIPELINE_RETRY_JITTER_SECONDS = 0
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "enqueue_test_payment", "--user", operator_user.email, "--card", "4000 0000 0000 0101"
        )

    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.attempts == 2


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--user", "nobody@example.com"], "No user"),
        (["--user", "ops-test@example.com", "--amount", "lots"], "not an amount"),
        (["--user", "ops-test@example.com", "--amount", "0"], "amount_out_of_range"),
    ],
)
def test_a_test_payment_that_cannot_be_made_says_why_and_makes_nothing(
    operator_user, card_provider, arguments, message
):
    with pytest.raises(CommandError, match=message):
        call_command("enqueue_test_payment", *arguments)

    assert not Payment.objects.exists()


def test_where_the_card_provider_is_real_a_test_payment_needs_live(
    operator_user, card_provider, settings
):
    settings.SIMULATORS_ENABLED = False

    with pytest.raises(CommandError, match="--live"):
        call_command("enqueue_test_payment", "--user", operator_user.email)

    assert not Payment.objects.exists()


def test_the_queue_depth_is_read_from_the_broker(settings, capsys):
    """On this tier's broker (files for SQLite, Redis for the real stack; SQS on moto in
    tests/integration/test_sqs_broker.py), a queue of its own so that no worker takes them."""
    queue = Queue(f"depth-test-{uuid.uuid4().hex[:8]}")
    settings.CELERY_TASK_QUEUES = [*settings.CELERY_TASK_QUEUES, queue]
    with current_app.connection_for_write() as connection:
        bound = queue(connection.default_channel)
        bound.declare()
        producer = connection.Producer()
        for number in range(3):
            producer.publish({"n": number}, routing_key=queue.name, declare=[queue])
        try:
            call_command("queue_depth", "--queue", queue.name)
            assert capsys.readouterr().out == f"{queue.name}: 3 waiting\n"
        finally:
            bound.purge()
            bound.delete()


def test_a_broker_that_cannot_be_reached_is_an_error_that_says_why(monkeypatch, caplog):
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    # Celery reads CELERY_BROKER_URL (the real stack's tier sets it) before its setting. The
    # setting first: monkeypatch keeps what it reads, which the variable would change.
    monkeypatch.setattr(current_app.conf, "broker_url", nobody)
    monkeypatch.setenv("CELERY_BROKER_URL", nobody)

    with (
        caplog.at_level(logging.WARNING, logger="payments.queue"),
        pytest.raises(CommandError, match="could not be reached"),
    ):
        call_command("queue_depth")

    [line] = [r.getMessage() for r in caplog.records if r.name == "payments.queue"]
    assert line.startswith("queue depth unknown: OperationalError: ")
    assert "Connection refused" in line


def test_every_queue_is_listed(capsys):
    call_command("queue_depth")

    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["pipeline", "notifications", "maintenance"]
