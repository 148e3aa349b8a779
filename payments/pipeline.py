"""The payment pipeline: validate → process → update → notify, and handle error (seed 000).

Each step is a plain function of a payment id that is safe to run again: after it has done its
work, running it (or the whole pipeline) once more changes nothing and charges nothing. The
Celery tasks in `payments/tasks.py` run the steps, pass the payment on, and decide on retries;
the business rules live here, in `payments/services/` and, for the card, in `payments/card/`.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery

from gateways.base import (
    PaymentDeclinedError,
    PermanentGatewayError,
    TransientGatewayError,
)
from gateways.models import Gateway
from gateways.selectors import gateway_is_paused
from notifications.services import notifications_summary, notify_payment_event
from orders.models import OrderStatus
from payments.card.charges import card_charge, succeeded_charges
from payments.exceptions import InsufficientBalance
from payments.metrics import pipeline_retries, timed_step
from payments.models import (
    LedgerEntry,
    LedgerEntryType,
    Payment,
    PaymentKind,
    PaymentStatus,
)
from payments.services import (
    ChargeNotAllowed,
    balance_debit,
    payment_complete,
    payment_event_record,
    payment_event_record_once,
    payment_fail,
    payment_may_take_money,
    payment_transition,
)

logger = logging.getLogger(__name__)

# The statuses a customer is told about at the end of the pipeline. Refunds are told of one by
# one, partial ones too, when the gateway makes them (`payments.refunds.services.refund_notify`).
NOTIFIED_STATUSES = frozenset(
    {
        PaymentStatus.COMPLETED,
        PaymentStatus.FAILED,
        PaymentStatus.CREDITED,
    }
)


class GatewayPaused(Exception):
    """Staff paused the payment's gateway: wait and look again, do not fail."""


class PaymentInvalid(Exception):
    """The payment can no longer be made as asked (the order was paid or changed, ...)."""


@dataclass(frozen=True)
class Failure:
    """Why a payment failed, and whether a person must look (a dead letter) or not (a decline)."""

    reason: str
    needs_review: bool


@timed_step("validate")
def validate(payment_id: int) -> None:
    """pending → processing, once the payment can be charged as it stands.

    Raises `PaymentInvalid` (handle error) or `GatewayPaused` (wait).
    """
    with transaction.atomic():
        # Read under the lock (the order's row too: MariaDB locks every row a FOR UPDATE
        # reads), so what is checked is what is moved: a payment cancelled meanwhile is read
        # cancelled, and left alone.
        payment = Payment.objects.select_for_update().select_related("order").get(pk=payment_id)
        if payment.status != PaymentStatus.PENDING:
            return
        _check_can_charge(payment)
        payment_transition(
            payment_id=payment_id, to=PaymentStatus.PROCESSING, event="validated", locked=payment
        )


@timed_step("process")
def process(payment_id: int) -> None:
    """Take the money, once: charge the card, or debit the customer's balance.

    Does nothing if the payment is not processing or the money was already taken. Raises
    `TransientGatewayError` (retry), `ChargeOutcomeUnknown` (stop: the janitor settles it),
    `PaymentDeclinedError` / `PermanentGatewayError` / `PaymentInvalid` / `InsufficientBalance`
    (handle error), `GatewayPaused` (wait).
    """
    payment = (
        Payment.objects.select_related("order")
        .annotate(charged=Exists(succeeded_charges(OuterRef("pk"))))
        .get(pk=payment_id)
    )
    if payment.status != PaymentStatus.PROCESSING:
        return
    if payment.gateway == Gateway.BALANCE:
        _check_can_charge(payment)
        with transaction.atomic():
            # The money moves here: checked again under the payment's lock, which every move
            # of its status and claim takes too.
            locked = Payment.objects.select_for_update().get(pk=payment_id)
            if not payment_may_take_money(locked):
                raise PaymentInvalid("the payment does not hold its order")
            # Posted at most once per payment (the ledger's unique constraint): a rerun moves
            # nothing.
            balance_debit(
                user_id=payment.user_id,
                amount=payment.amount,
                currency=payment.currency,
                entry_type=LedgerEntryType.ORDER_PAYMENT,
                payment_id=payment_id,
            )
        return
    if payment.charged:
        return
    _check_can_charge(payment)
    try:
        card_charge(payment)
    except ChargeNotAllowed:
        raise PaymentInvalid("the payment does not hold its order") from None


@timed_step("update")
def update(payment_id: int, failure: Failure | None = None) -> None:
    """Apply the outcome: completed with what it pays for, or failed with the reason."""
    if failure is not None:
        status = Payment.objects.values_list("status", flat=True).get(pk=payment_id)
        if status in (PaymentStatus.PENDING, PaymentStatus.PROCESSING):
            payment_fail(
                payment_id=payment_id, reason=failure.reason, needs_review=failure.needs_review
            )
        return
    with transaction.atomic():
        # Read under the lock, with the charge's id (the subquery takes no lock of its own).
        charge = succeeded_charges(OuterRef("pk")).values("external_id")[:1]
        payment = (
            Payment.objects.select_for_update()
            .annotate(charge_id=Subquery(charge))
            .get(pk=payment_id)
        )
        if payment.status != PaymentStatus.PROCESSING:
            return
        if payment.gateway == Gateway.CARD:
            reference = payment.charge_id
        elif payment.gateway == Gateway.BALANCE:
            debit = LedgerEntry.objects.filter(
                payment_id=payment_id, entry_type=LedgerEntryType.ORDER_PAYMENT
            ).first()
            reference = f"ledger-{debit.pk}" if debit else None
        else:
            # Gateways that tell us (ECPay, wallets): validate recorded their id of the payment.
            reference = payment.gateway_reference
        if reference:
            payment_complete(payment_id=payment_id, gateway_reference=reference, locked=payment)


def handle_error(payment_id: int, step: str, error: BaseException) -> Failure:
    """Record an error on the timeline and decide what it means for the payment.

    A decline or an invalid payment is an ordinary failure; anything else (a bug, a permanent
    gateway error, retries exhausted) is a dead letter that a person must look at.

    The payment's `failure_reason` goes to its customer (the API shows it): it names what
    failed, never an exception's own text, which may hold anything (a database's host, a
    gateway's answer). That text is for staff: on the timeline's event, and in the log.
    """
    detail = ""
    if isinstance(error, PaymentDeclinedError):
        failure = Failure(reason=f"declined: {error.code}", needs_review=False)
    elif isinstance(error, PaymentInvalid):
        failure = Failure(reason=f"invalid: {error}", needs_review=False)
    elif isinstance(error, InsufficientBalance):
        failure = Failure(reason="insufficient balance", needs_review=False)
    elif isinstance(error, TransientGatewayError):
        failure = Failure(
            reason=f"gave up after {settings.PIPELINE_RETRY_MAX} retries: {error.code}",
            needs_review=True,
        )
    elif isinstance(error, PermanentGatewayError):
        failure = Failure(reason=f"gateway error: {error.code}", needs_review=True)
        detail = str(error)
    else:
        failure = Failure(reason=f"{step} step crashed: {type(error).__name__}", needs_review=True)
        detail = str(error)
        logger.error("payment %s: %s: %s", payment_id, failure.reason, detail, exc_info=error)
    data = {"step": step, "reason": failure.reason, "dead_letter": failure.needs_review}
    if detail:
        data["error"] = detail[:1000]
    payment_event_record(payment_id=payment_id, type="error", data=data, is_error=True)
    return failure


@timed_step("notify")
def notify(payment_id: int) -> None:
    """Tell the customer the outcome. Each message is sent at most once, and the timeline says
    so once, whatever reruns or runs at the same time."""
    payment = Payment.objects.select_related("user", "order").get(pk=payment_id)
    if payment.status not in NOTIFIED_STATUSES:
        return
    notifications = notify_payment_event(payment=payment, event=payment.status)
    # Two notify steps at once (a redelivered task beside the first) send nothing twice, and
    # write the timeline entry once.
    payment_event_record_once(
        payment_id=payment_id,
        type=f"notified_{payment.status}",
        data={"messages": notifications_summary(notifications)},
    )


def record_retry(payment_id: int, error: TransientGatewayError, retry: int, delay: float) -> None:
    # Only the process step talks to a gateway, so only it is retried.
    pipeline_retries.labels("process").inc()
    payment_event_record(
        payment_id=payment_id,
        type="retry_scheduled",
        data={"retry": retry, "delay_seconds": round(delay, 1), "error": error.code},
        is_error=True,
    )


def record_waiting_for_gateway(payment_id: int) -> None:
    payment_event_record(payment_id=payment_id, type="waiting_gateway_paused")


def _check_can_charge(payment: Payment) -> None:
    if gateway_is_paused(payment.gateway):
        raise GatewayPaused(payment.gateway)
    if payment.gateway == Gateway.BALANCE:
        if payment.kind != PaymentKind.ORDER:
            raise PaymentInvalid("only orders are paid from the balance")
    elif payment.gateway != Gateway.CARD or not payment.card_token:
        raise PaymentInvalid("not a card payment with a token")
    if payment.kind == PaymentKind.ORDER:
        order = payment.order
        if order is None or order.status != OrderStatus.PENDING_PAYMENT:
            raise PaymentInvalid("the order is not waiting for payment")
        if payment.claimed_order_id != order.pk:
            raise PaymentInvalid("another payment holds the order")
        if (order.total, order.currency) != (payment.amount, payment.currency):
            raise PaymentInvalid("the order's total changed")
