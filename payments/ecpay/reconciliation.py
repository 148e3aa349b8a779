"""Reconciliation with ECPay: ask QueryTradeInfo about payments that should have heard back.

Recovers lost notifications through the same code path as a notification
(`payments.ecpay.notifications.ecpay_paid`) and records every difference it finds for staff.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from core.batches import rows_in_batches
from core.exceptions import DomainError
from gateways.base import GatewayError
from gateways.ecpay import (
    QueryRateLimited,
    TradeStatus,
    code_validity,
    ecpay_config,
    late_result_allowance,
    query_trade,
)
from gateways.models import Gateway
from gateways.selectors import gateway_queries_blocked
from gateways.services import gateway_block_queries
from payments.ecpay.notifications import ecpay_paid
from payments.limits import ECPAY_PAGE_METHODS
from payments.models import (
    DiscrepancyKind,
    Payment,
    PaymentEvent,
    PaymentMethod,
    PaymentStatus,
    ReconciliationCheck,
    ReconciliationDiscrepancy,
)
from payments.services import payment_flag_for_review

# ECPay answers 403 to a merchant that queries too often; it asks for 30 minutes of quiet.
RATE_LIMIT_BACKOFF = timedelta(minutes=30)


@dataclass
class ReconciliationReport:
    checked: int = 0
    recovered: list[str] = field(default_factory=list)
    discrepancies: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    backed_off: bool = False


# A card payment we gave up on is asked about for this long: money may still have arrived.
GAVE_UP_LOOKBACK = timedelta(days=2)
# An ATM / store payment is followed until its code's deadline, plus ECPay's delay in reporting
# the method (`late_result_allowance`), plus this: ECPay's redeliveries of a result run for a
# day. By then ECPay has settled it or never will.
FOLLOW_UP_MARGIN = timedelta(days=1)
# Ways to pay with a code: the customer pays at an ATM or a store, later, and ECPay reports it.
_CODE_METHODS = (PaymentMethod.ATM, PaymentMethod.CVS, PaymentMethod.BARCODE)
_GAVE_UP = (PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.EXPIRED)
# Statuses in which our record says ECPay's money arrived: ECPay saying paid, under the TradeNo
# we applied, agrees with it (the notification got here first, or staff asked about a good one).
_MONEY_ARRIVED = frozenset(
    {
        PaymentStatus.PROCESSING,
        PaymentStatus.COMPLETED,
        PaymentStatus.REFUNDED,
        PaymentStatus.CREDITED,
    }
)


def ecpay_payments_to_check(*, card_age: timedelta) -> QuerySet[Payment]:
    """ECPay payments whose result we should know by now, and may not.

    - Pending card payments after `card_age`.
    - ATM / store payments from their code's deadline (the customer may pay until then; one
      with no code after `card_age`), pending or given up on (expired, failed, cancelled), for
      as long as ECPay may still report money paid with the code (`_code_followed`).
    - Card payments given up on, for GAVE_UP_LOOKBACK after they were created.

    None whose money ECPay already reported here, none asked about within
    ECPAY_RECONCILE_REASK_MINUTES, and none with a discrepancy staff have not resolved yet:
    asking again would only repeat it (every half hour, as ECPay's answer rarely changes). Once
    resolved, a payment still in its window is followed again: the same difference is not
    recorded or flagged twice (`_record`), a new answer (money under the right amount) is acted on.
    """
    now = timezone.now()
    card = Q(method=PaymentMethod.CARD)
    card_due = card & Q(status=PaymentStatus.PENDING, created_at__lt=now - card_age)
    card_gave_up = card & Q(status__in=_GAVE_UP, created_at__gte=now - GAVE_UP_LOOKBACK)
    code_due = Q(method__in=_CODE_METHODS, status__in=(PaymentStatus.PENDING, *_GAVE_UP)) & (
        Q(payment_code_expires_at__lt=now)
        | Q(payment_code_expires_at__isnull=True, created_at__lt=now - card_age)
    )
    asked_lately = Q(
        reconciliation_check__asked_at__gte=now
        - timedelta(minutes=settings.ECPAY_RECONCILE_REASK_MINUTES)
    )
    return (
        Payment.objects.filter(
            gateway=Gateway.ECPAY, merchant_trade_no__isnull=False, gateway_reference__isnull=True
        )
        .filter(card_due | card_gave_up | (code_due & _code_followed(now)))
        .exclude(asked_lately)
        .exclude(
            Exists(
                ReconciliationDiscrepancy.objects.filter(
                    payment=OuterRef("pk"), resolved_at__isnull=True
                )
            )
        )
    )


def _code_followed(now: datetime) -> Q:
    """ATM / store payments ECPay may still report money for: until the code's deadline (or,
    with no code issued, the longest it could have been valid) plus the method's reporting
    delay and FOLLOW_UP_MARGIN."""
    followed = Q(pk__in=[])
    for method in _CODE_METHODS:
        ecpay_method = ECPAY_PAGE_METHODS[method]
        after_deadline = late_result_allowance(ecpay_method) + FOLLOW_UP_MARGIN
        followed |= Q(method=method) & (
            Q(payment_code_expires_at__gte=now - after_deadline)
            | Q(
                payment_code_expires_at__isnull=True,
                created_at__gte=now - code_validity(ecpay_method) - after_deadline,
            )
        )
    return followed


def reconcile_ecpay(
    *,
    card_age: timedelta,
    limit: int | None,
    dry_run: bool = False,
    on_asked: Callable[[], None] = lambda: None,
) -> ReconciliationReport:
    """Ask ECPay about at most `limit` payments (all when None), oldest first.

    They are read in batches (`core.batches`), so memory stays flat however many there are;
    `on_asked` is called after each question (a command's progress bar). A 403 from ECPay stops
    the run and every run for the next 30 minutes.
    """
    report = ReconciliationReport()
    if gateway_queries_blocked(Gateway.ECPAY):
        report.backed_off = True
        return report
    config = ecpay_config()
    for batch in rows_in_batches(ecpay_payments_to_check(card_age=card_age), limit=limit):
        for payment in batch:
            try:
                status = query_trade(payment.merchant_trade_no or "", config)
            except QueryRateLimited:
                gateway_block_queries(
                    gateway=Gateway.ECPAY, until=timezone.now() + RATE_LIMIT_BACKOFF
                )
                report.backed_off = True
                return report
            except GatewayError as error:
                report.errors.append(f"{payment.public_id}: {error.code}")
                if not dry_run:
                    reconciliation_asked(payment, {"error": error.code})
                continue
            finally:
                on_asked()
            report.checked += 1
            if not dry_run:
                reconciliation_asked(payment, _answer(status))
                reconcile_trade_status(payment, status, report)
    return report


def reconcile_trade_status(
    payment: Payment, status: TradeStatus, report: ReconciliationReport
) -> None:
    """Act on what ECPay says of `payment`: recover a lost notification through the
    notification's own code path, record any difference for staff (once) in `report` and as a
    discrepancy, flagging the payment when the discrepancy is first recorded. Nothing to do when
    ECPay has no payment yet, or when our record already says its money arrived under the same
    TradeNo and amount: `payment` may have been read before the notification was applied (the
    sweep), or be a good payment staff asked about (`payment_requery`)."""
    if not status.paid:
        return  # not paid yet: nothing to recover (expiry is its own job)
    if status.trade_amt != payment.amount:
        with transaction.atomic():
            if _record(payment, DiscrepancyKind.AMOUNT_MISMATCH, status, report):
                payment_flag_for_review(
                    payment_id=payment.pk,
                    reason="amount_mismatch",
                    data={
                        "trade_amt": str(status.trade_amt),
                        "difference": str(status.trade_amt - payment.amount),
                        "source": "reconciliation",
                    },
                )
        return
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        was_pending = locked.status == PaymentStatus.PENDING
        agrees = locked.status in _MONEY_ARRIVED and locked.gateway_reference == status.trade_no
        if agrees:
            return
        ecpay_paid(locked, trade_no=status.trade_no, source={"source": "reconciliation"})
    if was_pending:
        _record(payment, DiscrepancyKind.MISSING_CALLBACK, status, report)
        report.recovered.append(payment.public_id)
    else:
        # Paid at ECPay, given up on here (or under another TradeNo): ecpay_paid flagged it;
        # staff decide.
        _record(payment, DiscrepancyKind.STATUS_MISMATCH, status, report)


def reconciliation_asked(payment: Payment, answer: dict[str, str]) -> None:
    """Note that ECPay was asked about `payment` just now, and what it answered."""
    now = timezone.now()
    check, created = ReconciliationCheck.objects.get_or_create(
        payment=payment, defaults={"asked_at": now, "answer": answer}
    )
    if not created:
        ReconciliationCheck.objects.filter(pk=check.pk).update(
            asked_at=now, answer=answer, times_asked=F("times_asked") + 1
        )


def _answer(status: TradeStatus) -> dict[str, str]:
    return {
        "trade_status": status.fields.get("TradeStatus", ""),
        "trade_amt": str(status.trade_amt),
        "payment_date": status.payment_date,
    }


def _record(payment: Payment, kind: str, status: TradeStatus, report: ReconciliationReport) -> bool:
    """Record the difference once per payment and kind (the unique constraint); whether this
    call recorded it, so what goes with a new discrepancy (a flag for review) happens once."""
    try:
        with transaction.atomic():
            ReconciliationDiscrepancy.objects.create(
                payment=payment,
                kind=kind,
                details={
                    "trade_no": status.trade_no,
                    "trade_amt": str(status.trade_amt),
                    "payment_type": status.payment_type,
                },
            )
    except IntegrityError:
        return False  # found before: recorded once
    report.discrepancies.append(f"{payment.public_id}: {kind}")
    return True


class RequeryNotPossible(DomainError):
    code = "requery_not_possible"
    http_status = 409
    default_message = "Only ECPay payments with a MerchantTradeNo can be asked about again."


def payment_requery(*, payment_id: int, actor: User) -> PaymentEvent:
    """Ask ECPay (QueryTradeInfo) what it knows of one payment now, and act on the answer as
    reconciliation does: a lost notification is recovered, a difference recorded for staff.

    The question is asked outside any transaction. Returns the `requeried` event (with `actor`)
    that says what ECPay answered, or why it could not be asked. Raises `RequeryNotPossible` for
    a payment ECPay does not know by a MerchantTradeNo.
    """
    payment = Payment.objects.get(pk=payment_id)
    if payment.gateway != Gateway.ECPAY or not payment.merchant_trade_no:
        raise RequeryNotPossible()
    data: dict[str, Any] = {"status_before": payment.status}
    if gateway_queries_blocked(Gateway.ECPAY):
        data["error"] = "ECPay asked us to stop querying for now"
    else:
        try:
            trade = query_trade(payment.merchant_trade_no, ecpay_config())
        except QueryRateLimited:
            gateway_block_queries(gateway=Gateway.ECPAY, until=timezone.now() + RATE_LIMIT_BACKOFF)
            data["error"] = "rate_limited"
        except GatewayError as error:
            data["error"] = error.code
        else:
            reconciliation_asked(payment, _answer(trade))
            report = ReconciliationReport()
            reconcile_trade_status(payment, trade, report)
            data.update(
                paid=trade.paid,
                trade_no=trade.trade_no,
                trade_amt=str(trade.trade_amt),
                discrepancies=report.discrepancies,
                status_after=Payment.objects.values_list("status", flat=True).get(pk=payment_id),
            )
    return PaymentEvent.objects.create(
        payment_id=payment_id, type="requeried", data=data, actor=actor, is_error="error" in data
    )
