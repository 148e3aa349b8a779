"""Celery tasks that run the payment pipeline's steps (`payments/pipeline.py`).

A task runs the pipeline from its step to the end (validate → process → update → notify) in
one worker process: a payment costs one broker message on the success path, not one per step,
because four round trips through the broker cost more than the steps themselves
(bench/RESULTS.md). What makes a step wait goes back to the broker as the task of that step: a
retry (with its backoff) is `payment_process` again, a paused gateway's recheck the task that
found it paused; so retries stay per step. Every step is idempotent, so a task delivered again
(a worker killed mid-run, acks_late) starts over from its step and repeats nothing. Retries,
waits and the error path are decided here; the rules themselves live in the pipeline.
"""

import contextlib
import logging
import random
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from accounts.models import User
from core.batches import ids_in_batches
from gateways.base import GatewayError, PaymentDeclinedError, TransientGatewayError
from gateways.models import Gateway
from gateways.selectors import callbacks_left_waiting
from payments import pipeline, queue
from payments.card.charges import ChargeOutcomeUnknown, card_charge_settle, card_charges_unsettled
from payments.ecpay import notifications
from payments.ecpay.notifications import (
    NOTIFICATION_DRAIN_COVERS,
    ecpay_notifications_apply_waiting,
)
from payments.ecpay.reconciliation import reconcile_ecpay
from payments.metrics import (
    ledger_checked,
    ledger_mismatched,
    notification_drains,
    periodic_heartbeat,
    reconciliation_discrepancies,
    reconciliation_ran,
)
from payments.models import Payment, PaymentStatus
from payments.refunds import processing as refund_processing
from payments.refunds.services import refund_notify
from payments.selectors import (
    ledger_mismatches,
    operations_unknown,
    payments_expirable,
    payments_stranded,
    wallet_reported_success,
)
from payments.services import breaker_count_failure, breakers_probe, payment_expire
from payments.wallet.callbacks import wallet_payment_settle

logger = logging.getLogger(__name__)


@shared_task(name=queue.PAYMENT_VALIDATE)
def payment_validate(payment_id: int) -> None:
    """The whole pipeline: a new payment, or one reprocessed from the start."""
    _run_from_validate(payment_id)


@shared_task(name=queue.PAYMENT_PROCESS)
def payment_process(payment_id: int, retry: int = 0) -> None:
    """From the process step on: a retry, a charge the janitor found never made, a reprocess."""
    _run_from_process(payment_id, retry)


@shared_task(name=queue.PAYMENT_UPDATE)
def payment_update(payment_id: int) -> None:
    """From the update step on: the money was taken (a charge the janitor settled, ECPay paid)."""
    _run_from_update(payment_id)


@shared_task(name=queue.PAYMENT_WALLET_SETTLE)
def payment_wallet_settle(payment_id: int, success: bool) -> None:
    """A wallet or bank app reported the outcome: settle (completed or failed) → notify."""
    try:
        wallet_payment_settle(payment_id, success=success)
    except Exception as error:
        _fail(payment_id, "update", error)
    else:
        pipeline.notify(payment_id)


@shared_task(name=queue.PAYMENT_NOTIFY)
def payment_notify(payment_id: int) -> None:
    """Tell the customer again (a refund, or a rerun): each message is sent at most once."""
    pipeline.notify(payment_id)


# A drain that has applied this many asks another worker process to share the backlog (a burst
# after an outage), and after DRAIN_BATCH it queues its own continuation and gives its process
# back to the other queued tasks.
DRAIN_SHARED_AFTER = 20
DRAIN_BATCH = 200


@shared_task(name=queue.ECPAY_NOTIFICATIONS_DRAIN)
def ecpay_notifications_drain(retry: int = 0) -> None:
    """Apply every waiting ECPay notification (`ecpay_notifications_apply_waiting`).

    Delivered twice, or beside another drain, it repeats nothing: each notification is applied
    under its row lock, and one already applied is no longer waiting. A database failure is
    retried with backoff, as a gateway's is; past the retries what waits is the sweep's.
    """
    notification_drains.inc()
    try:
        applied = ecpay_notifications_apply_waiting(limit=DRAIN_SHARED_AFTER)
        if applied < DRAIN_SHARED_AFTER:
            return
        ecpay_notifications_drain.delay()
        applied += ecpay_notifications_apply_waiting(limit=DRAIN_BATCH - applied)
        if applied == DRAIN_BATCH:
            ecpay_notifications_drain.delay()
    except (OperationalError, InterfaceError) as error:
        _retry_or_raise(ecpay_notifications_drain, (), retry, error, "ECPay notifications")


@shared_task
def ecpay_notification_apply(callback_id: int, retry: int = 0) -> None:
    """Apply one stored ECPay notification (`notifications.ecpay_notification_apply`).

    Nothing queues it any more: a release queued one per notification, and during a rolling
    deploy its web servers still do, so a worker must still take them. A database failure is
    retried as the drain's is.
    """
    try:
        notifications.ecpay_notification_apply(callback_id=callback_id)
    except (OperationalError, InterfaceError) as error:
        what = f"ECPay notification {callback_id}"
        _retry_or_raise(ecpay_notification_apply, (callback_id,), retry, error, what)


def _retry_or_raise(
    task: Task[..., Any], args: tuple[Any, ...], retry: int, error: Exception, what: str
) -> None:
    """After a database failure: queue `task(*args)` again after the backoff for `retry`, or
    raise `error` once the retries are spent."""
    if retry >= settings.PIPELINE_RETRY_MAX:
        raise error
    logger.warning("%s not applied, retrying: %s", what, error)
    task.apply_async(args, {"retry": retry + 1}, countdown=retry_delay(retry))


@shared_task(name=queue.PAYMENT_RESUME)
def payment_resume(payment_id: int) -> None:
    """Run a payment from where it stands, by its gateway: one the pipeline lost on (see
    `payments_resume_stranded`), or a dead letter reprocessed (`payment_reprocess`).

    Every step is idempotent, so resuming one that was only slow repeats nothing.
    """
    payment = Payment.objects.only("status", "gateway").get(pk=payment_id)
    if payment.status == PaymentStatus.PENDING:
        _run_from_validate(payment_id)
    elif payment.status != PaymentStatus.PROCESSING:
        # Done, but perhaps never told (a failure ECPay reported, its notice lost).
        pipeline.notify(payment_id)
    elif payment.gateway in (Gateway.CARD, Gateway.BALANCE):
        _run_from_process(payment_id, retry=0)
    elif payment.gateway in (Gateway.WALLET, Gateway.BANK_APP):
        payment_wallet_settle(payment_id, wallet_reported_success(payment_id=payment_id))
    else:
        # ECPay: its notification moved the payment to processing; the money is taken.
        _run_from_update(payment_id)


def _run_from_validate(payment_id: int) -> None:
    try:
        pipeline.validate(payment_id)
    except pipeline.GatewayPaused:
        _wait_for_gateway(payment_validate, payment_id)
    except Exception as error:
        _fail(payment_id, "validate", error)
    else:
        _run_from_process(payment_id, retry=0)


def _run_from_process(payment_id: int, retry: int) -> None:
    try:
        pipeline.process(payment_id)
    except pipeline.GatewayPaused:
        # Its retries start again once the gateway is back: the failures that paused it (by
        # staff or its breaker) were the gateway's, not this payment's.
        _wait_for_gateway(payment_process, payment_id)
    except ChargeOutcomeUnknown:
        # Not retried: the charge may have gone through. The janitor asks the provider.
        pass
    except TransientGatewayError as error:
        breaker_count_failure(payment_id=payment_id, error=error)
        if retry < settings.PIPELINE_RETRY_MAX:
            delay = retry_delay(retry)
            pipeline.record_retry(payment_id, error, retry=retry + 1, delay=delay)
            payment_process.apply_async((payment_id,), {"retry": retry + 1}, countdown=delay)
        else:
            _fail(payment_id, "process", error)
    except Exception as error:
        _fail(payment_id, "process", error)
    else:
        _run_from_update(payment_id)


def _run_from_update(payment_id: int) -> None:
    try:
        pipeline.update(payment_id)
    except Exception as error:
        _fail(payment_id, "update", error)
    else:
        # Channel failures are recorded on each notification and retried by their own sweep.
        pipeline.notify(payment_id)


@shared_task(name=queue.REFUND_PROCESS)
def refund_process(operation_id: int, retry: int = 0) -> None:
    """Make a refund staff asked for; transient errors are retried with the same key."""
    try:
        refund_processing.refund_process(operation_id)
    except TransientGatewayError:
        if retry < settings.PIPELINE_RETRY_MAX:
            refund_process.apply_async(
                (operation_id,), {"retry": retry + 1}, countdown=retry_delay(retry)
            )
        else:
            refund_processing.refund_give_up_retrying(operation_id)
    else:
        # Also when the refund was made by an earlier run of this task: its worker may have died
        # before the customer was told. Telling twice sends nothing twice.
        refund_notify(operation_id=operation_id)


@shared_task
def operations_settle_unknown() -> int:
    """Periodic janitor: settle charges and refunds left without an answer.

    A charge is settled by asking the provider, then its payment goes on; a card or balance
    refund by sending it again with the same key (the provider answers with the refund it made,
    if it made one). An ECPay refund left pending is never sent from here (DoAction takes no
    key): it is marked unknown and flagged for a person.
    """
    for operation in refund_processing.unsettled_refunds():
        # Errors leave it for the next sweep; an unexpected one is logged by Celery.
        with contextlib.suppress(GatewayError):
            refund_processing.refund_process(operation.pk)
            refund_notify(operation_id=operation.pk)
    for operation in refund_processing.ecpay_refunds_unanswered():
        refund_processing.ecpay_refund_mark_unknown(
            operation_id=operation.pk, error_code="left_pending"
        )
    settled = 0
    for operation in card_charges_unsettled():
        settlement = card_charge_settle(operation)
        if settlement is None:
            continue
        settled += 1
        if settlement.declined:
            _fail(settlement.payment_id, "process", PaymentDeclinedError(code=settlement.declined))
        elif settlement.charged:
            payment_update.delay(settlement.payment_id)
        else:
            # Never reached the provider: the process step may charge, with a new key.
            payment_process.delay(settlement.payment_id)
    _report_unknown_outcomes()
    return settled


def _report_unknown_outcomes() -> None:
    """One line per sweep while any outcome stays unknown, with its numbers as fields: the
    deployment's alarm reads the oldest one's age from it (deploy/service.yaml)."""
    unknown = operations_unknown()
    if unknown.oldest is None:
        return
    age = int((timezone.now() - unknown.oldest).total_seconds())
    logger.warning(
        "%d gateway operations have an unknown outcome; the oldest for %d s",
        unknown.count,
        age,
        extra={"measurements": {"unknown_outcomes": unknown.count, "oldest_unknown_seconds": age}},
    )


@shared_task
def payments_resume_stranded(limit: int = 500) -> int:
    """Periodic: resume payments whose pipeline message never ran (the broker was down when it
    was queued, or lost it), left waiting longer than PIPELINE_STRANDED_AFTER_SECONDS
    (`payments_stranded`), and drain ECPay notifications that no drain reached within
    `NOTIFICATION_DRAIN_COVERS` (`callbacks_left_waiting`). Returns how many tasks it queued."""
    queued = 0
    # A pending ECPay payment is never stranded (it waits for its customer); a notification
    # about it that was stored and never applied is. One drain applies them all.
    if callbacks_left_waiting(gateway=Gateway.ECPAY, older_than=NOTIFICATION_DRAIN_COVERS):
        ecpay_notifications_drain.delay()
        queued += 1
    older_than = timedelta(seconds=settings.PIPELINE_STRANDED_AFTER_SECONDS)
    stranded = list(payments_stranded(older_than=older_than).values_list("pk", flat=True)[:limit])
    for payment_id in stranded:
        payment_resume.delay(payment_id)
    return queued + len(stranded)


@shared_task
def payments_expire_pending(limit: int = 1000) -> int:
    """Periodic: expire payments left pending past EXPIRE_PENDING_AFTER_MINUTES (as
    `manage.py expire_pending` does), oldest first. Returns how many it expired.

    The selector leaves out every payment `payment_expire` would skip, so the `limit` rows a
    run takes are ones it expires (bar one paid meanwhile): payments waiting on a late result
    never use up the run while abandoned ones keep holding their orders."""
    older_than = timedelta(minutes=settings.EXPIRE_PENDING_AFTER_MINUTES)
    expired = 0
    expirable = payments_expirable(older_than=older_than)
    for payment_id in expirable.values_list("pk", flat=True)[:limit]:
        if payment_expire(payment_id=payment_id).status == PaymentStatus.EXPIRED:
            expired += 1
    return expired


@shared_task
def gateways_probe() -> int:
    """Periodic: probe the gateways their circuit breaker paused; returns how many resumed.

    The most frequent periodic task, so also the heartbeat of beat and the maintenance worker:
    its metric and its "succeeded" log line say both are alive (README, Operations)."""
    resumed = len(breakers_probe())
    periodic_heartbeat.set_to_current_time()
    return resumed


@shared_task
def ecpay_reconcile() -> int:
    """Periodic: recover lost ECPay notifications. Returns how many payments it recovered."""
    report = reconcile_ecpay(
        card_age=timedelta(minutes=settings.ECPAY_RECONCILE_CARD_AFTER_MINUTES), limit=100
    )
    if not report.backed_off:
        reconciliation_discrepancies.set(len(report.discrepancies))
        reconciliation_ran.set_to_current_time()
    return len(report.recovered)


@shared_task
def ledger_check() -> int:
    """Periodic: check every balance against its ledger (as `manage.py check_ledger` does), in
    batches of users; returns how many differ, which the metrics and an error line report."""
    mismatched = 0
    for user_ids in ids_in_batches(User.objects.all()):
        mismatched += len(ledger_mismatches(user_ids=user_ids))
    ledger_mismatched.set(mismatched)
    ledger_checked.set_to_current_time()
    if mismatched:
        logger.error(
            "%d balance(s) differ from their ledger: run manage.py check_ledger", mismatched
        )
    return mismatched


def retry_delay(retry: int) -> float:
    """5 s, 10 s, 20 s ... (seed 000's interval and backoff rate), with jitter."""
    base = settings.PIPELINE_RETRY_DELAY_SECONDS * settings.PIPELINE_RETRY_BACKOFF**retry
    return float(base + random.uniform(0, settings.PIPELINE_RETRY_JITTER_SECONDS))  # noqa: S311


def _wait_for_gateway(task: Task[..., None], payment_id: int) -> None:
    pipeline.record_waiting_for_gateway(payment_id)
    task.apply_async((payment_id,), countdown=settings.PIPELINE_PAUSED_RECHECK_SECONDS)


def _fail(payment_id: int, step: str, error: BaseException) -> None:
    """The error path: handle error → update (failed) → notify."""
    failure = pipeline.handle_error(payment_id, step, error)
    pipeline.update(payment_id, failure=failure)
    pipeline.notify(payment_id)
