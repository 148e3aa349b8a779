"""The card pipeline end to end, tasks run in-process, the provider simulator over real HTTP.

The real-worker versions of the important journeys are in tests/integration/.
"""

import json
import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from core.logging import JsonFormatter
from gateways.card import get_card_gateway
from gateways.card.simulator import cards
from orders.models import OrderStatus
from payments.models import GatewayOperation, LedgerEntry, Payment, PaymentStatus
from payments.tasks import (
    operations_settle_unknown,
    payment_notify,
    payment_process,
    payment_update,
    payment_validate,
    retry_delay,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_pipeline(settings, card_provider):
    settings.CARD_PROVIDER_TIMEOUT_SECONDS = 0.5  # the simulator's slow card takes 2 s
    settings.PIPELINE_RETRY_MAX = 3


def timeline(payment: Payment) -> list[str]:
    return list(payment.events.order_by("pk").values_list("type", flat=True))


def charges_at_provider(payment: Payment) -> int:
    """How many charges the provider holds for this payment's operations."""
    gateway = get_card_gateway()
    return sum(
        gateway.find_charge(operation.idempotency_key) is not None
        for operation in payment.operations.all()
    )


def test_an_approved_card_pays_the_order_and_tells_the_customer(pay, mailoutbox):
    payment = pay(cards.APPROVE)

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.attempts == 1
    assert timeline(payment) == [
        "created",
        "validated",
        "charge_attempt",
        "charge_succeeded",
        "completed",
        "notified_completed",
    ]
    order = payment.order
    assert order.status == OrderStatus.PAID
    header = order.payment_header
    assert (header.payment_id, header.is_paid, header.total_paid) == (payment.pk, True, order.total)
    assert header.gateway_payment_id == payment.gateway_reference
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [payment.user.email]
    assert charges_at_provider(payment) == 1


def test_two_transient_errors_then_success_take_three_attempts(pay):
    payment = pay(cards.TRANSIENT_TWICE)

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.attempts == 3
    events = timeline(payment)
    assert events.count("charge_attempt") == 3
    assert events.count("charge_failed") == 2
    assert events.count("retry_scheduled") == 2
    assert charges_at_provider(payment) == 1


def test_transient_errors_are_retried_three_times_after_5_10_and_20_seconds(pay, monkeypatch):
    # Seed 000's Retry: interval 5 s, backoff rate 2, 3 attempts. On top, up to
    # PIPELINE_RETRY_JITTER_SECONDS (1 s) at random keeps many payments' retries apart: 0 here.
    monkeypatch.setattr("payments.tasks.random.uniform", lambda low, high: 0.0)

    payment = pay(cards.TRANSIENT_THRICE)

    payment.refresh_from_db()
    delays = [
        event.data["delay_seconds"] for event in payment.events.filter(type="retry_scheduled")
    ]
    assert delays == [5.0, 10.0, 20.0]
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.attempts == 4


def test_the_jitter_adds_at_most_a_second_to_a_retry():
    delays = [retry_delay(0) for _ in range(200)]

    assert all(5.0 <= delay <= 6.0 for delay in delays)
    assert len(set(delays)) > 1


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        (cards.DECLINE, "declined: card_declined"),
        (cards.INSUFFICIENT_FUNDS, "declined: insufficient_funds"),
    ],
)
def test_a_declined_card_fails_the_payment_without_review_and_tells_the_customer(
    pay, mailoutbox, number, reason
):
    payment = pay(number)

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_reason == reason
    assert payment.needs_review is False
    assert payment.attempts == 1
    assert payment.order.status == OrderStatus.PENDING_PAYMENT
    assert timeline(payment)[-3:] == ["error", "failed", "notified_failed"]
    assert len(mailoutbox) == 1


def test_retries_exhausted_is_a_dead_letter(pay, settings):
    settings.PIPELINE_RETRY_MAX = 2

    payment = pay(cards.TRANSIENT_THRICE)

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert payment.needs_review is True
    assert payment.failure_reason == "gave up after 2 retries: transient"
    assert payment.attempts == 3
    assert charges_at_provider(payment) == 0


def test_a_charge_whose_answer_times_out_is_unknown_until_the_janitor_asks_the_provider(
    pay, settings, mailoutbox
):
    payment = pay(cards.TIMEOUT_AFTER_CHARGE)

    payment.refresh_from_db()
    operation = payment.operations.get()
    assert payment.status == PaymentStatus.PROCESSING
    assert operation.status == "unknown"
    assert mailoutbox == []

    settings.OPERATION_SETTLE_AFTER_SECONDS = 0
    assert operations_settle_unknown() == 1

    payment.refresh_from_db()
    operation.refresh_from_db()
    assert operation.status == "succeeded"
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.attempts == 1
    assert charges_at_provider(payment) == 1
    assert len(mailoutbox) == 1
    assert operations_settle_unknown() == 0


def test_while_an_outcome_stays_unknown_each_sweep_logs_its_age_for_the_alarm(
    pay, settings, caplog
):
    payment = pay(cards.TIMEOUT_AFTER_CHARGE)
    operation = payment.operations.get()
    GatewayOperation.objects.filter(pk=operation.pk).update(
        created_at=timezone.now() - timedelta(minutes=20)
    )
    # The provider cannot be asked yet: the outcome stays unknown through this sweep.
    settings.OPERATION_SETTLE_AFTER_SECONDS = 3600

    with caplog.at_level(logging.WARNING, logger="payments.tasks"):
        operations_settle_unknown()
    [record] = [r for r in caplog.records if r.name == "payments.tasks"]
    line = json.loads(JsonFormatter().format(record))

    # What deploy/service.yaml's UnknownOutcomesFilter reads: the logger and the field.
    assert line["logger"] == "payments.tasks"
    assert line["unknown_outcomes"] == 1
    assert 20 * 60 <= line["oldest_unknown_seconds"] < 21 * 60
    assert "1 gateway operations have an unknown outcome" in line["message"]

    settings.OPERATION_SETTLE_AFTER_SECONDS = 0
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="payments.tasks"):
        operations_settle_unknown()
    assert not [r for r in caplog.records if r.name == "payments.tasks"]


def test_a_crash_is_a_dead_letter_that_reprocess_payments_completes_charging_once(
    pay, monkeypatch, mailoutbox, api_client_for
):
    def crash(**kwargs):
        raise RuntimeError("bug in the update step at db-7.internal:3306")

    monkeypatch.setattr("payments.pipeline.payment_complete", crash)
    payment = pay(cards.APPROVE)
    payment.refresh_from_db()
    assert (payment.status, payment.needs_review) == (PaymentStatus.FAILED, True)
    # The customer reads what failed; the exception's own text is for staff only.
    assert payment.failure_reason == "update step crashed: RuntimeError"
    shown = api_client_for(payment.user).get(f"/api/v1/payments/{payment.public_id}/").json()
    assert shown["failure_reason"] == "update step crashed: RuntimeError"
    error = payment.events.get(type="error")
    assert error.data["error"] == "bug in the update step at db-7.internal:3306"
    monkeypatch.undo()  # the fix is deployed

    call_command("reprocess_payments")

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert payment.needs_review is False
    assert payment.attempts == 1
    assert GatewayOperation.objects.filter(payment=payment).count() == 1
    assert charges_at_provider(payment) == 1
    assert payment.order.status == OrderStatus.PAID
    assert len(mailoutbox) == 2  # "failed", then "completed": each once


def test_running_every_step_again_after_the_end_changes_nothing(pay, mailoutbox):
    payment = pay(cards.APPROVE)
    events_before = timeline(payment)

    for task in (payment_validate, payment_process, payment_update, payment_notify):
        task.delay(payment.pk)

    payment.refresh_from_db()
    assert timeline(payment) == events_before
    assert payment.operations.count() == 1
    assert len(mailoutbox) == 1
    assert payment.order.payment_header.payment_id == payment.pk


def test_a_deposit_credits_the_balance_once(pay, customer):
    payment = pay(cards.APPROVE, amount="750")

    payment.refresh_from_db()
    customer.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    assert customer.balance == Decimal("750")
    assert LedgerEntry.objects.get(user=customer).payment_id == payment.pk

    payment_update.delay(payment.pk)
    customer.refresh_from_db()
    assert customer.balance == Decimal("750")


def test_reprocess_payments_dry_run_changes_nothing(pay, monkeypatch, capsys):
    monkeypatch.setattr("payments.pipeline.payment_complete", lambda **kwargs: 1 / 0)
    payment = pay(cards.APPROVE)

    call_command("reprocess_payments", "--dry-run")

    assert f"would reprocess {payment.public_id} (failed)" in capsys.readouterr().out
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED


def test_reprocess_payments_refuses_a_payment_that_is_not_a_dead_letter(pay):
    payment = pay(cards.DECLINE)

    with pytest.raises(CommandError, match="could not be reprocessed"):
        call_command("reprocess_payments", payment.public_id)

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
