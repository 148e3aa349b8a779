"""Reads of payments and balances: who may see what, and what must add up."""

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, F, Min, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from core.models import CENT, ZERO, MoneyField
from gateways.ecpay import late_result_allowance
from gateways.models import Gateway
from gateways.selectors import callback_awaiting_apply, callbacks_waiting, gateways_paused
from payments.limits import ECPAY_PAGE_METHODS
from payments.models import (
    GatewayOperation,
    LedgerEntry,
    OperationKind,
    OperationStatus,
    Payment,
    PaymentEvent,
    PaymentStatus,
)


def payments_visible_to(*, user: User, filters: Mapping[str, Any]) -> QuerySet[Payment]:
    """The payments `user` may list (their own; every one for staff who may view payments),
    filtered, newest first.

    `filters` are validated values: status, method, gateway, order (number), created_after,
    created_before.
    """
    payments = Payment.objects.select_related("order")
    if not sees_every_payment(user):
        payments = payments.filter(user=user)
    for name, lookup in _PAYMENT_FILTERS.items():
        if filters.get(name) is not None:
            payments = payments.filter(**{lookup: filters[name]})
    return payments


_PAYMENT_FILTERS = {
    "status": "status",
    "method": "method",
    "gateway": "gateway",
    "order": "order__number",
    "created_after": "created_at__gte",
    "created_before": "created_at__lt",
}


def sees_every_payment(user: User) -> bool:
    """Staff with the view permission (reviewers, managers) see every customer's payments;
    being staff is not enough on its own."""
    return user.is_staff and user.has_perm("payments.view_payment")


def payment_get_for_user(*, user: User, public_id: str) -> Payment:
    """The payment, if `user` may see it (its owner, or staff who may view payments). Raises
    Payment.DoesNotExist."""
    payments = Payment.objects.select_related("order")
    if not sees_every_payment(user):
        payments = payments.filter(user=user)
    return payments.get(public_id=public_id)


def payment_refunds(*, payment: Payment) -> QuerySet[GatewayOperation]:
    """The refunds asked for `payment`, oldest first."""
    return (
        GatewayOperation.objects.select_related("payment")
        .filter(payment=payment, kind=OperationKind.REFUND)
        .order_by("created_at", "pk")
    )


def payments_of(*, customer: User) -> QuerySet[Payment]:
    """A customer's payments, newest first (staff's page of the customer)."""
    return Payment.objects.filter(user=customer).order_by("-created_at", "-pk")


def payment_review_reason(payment: Payment) -> str:
    """Why the payment was last flagged for a person to look at (payment_flag_for_review's
    reason), or "" if it never was."""
    event = (
        PaymentEvent.objects.filter(payment=payment, type="flagged_for_review")
        .order_by("-created_at", "-pk")
        .first()
    )
    reason = event.data.get("reason") if event is not None else None
    return reason if isinstance(reason, str) else ""


def ledger_entries_of(*, user: User) -> QuerySet[LedgerEntry]:
    """The user's ledger entries, each with its payment's public id at hand."""
    return (
        LedgerEntry.objects.filter(user=user)
        .select_related("payment")
        .only(
            "entry_type",
            "amount",
            "currency",
            "balance_after",
            "created_at",
            "payment__public_id",
        )
    )


def payments_stranded(*, older_than: timedelta) -> QuerySet[Payment]:
    """Payments waiting longer than `older_than` for a pipeline step that should have run long
    before, oldest first: pending card and balance payments (queued when they were created),
    processing payments of any gateway (queued when the money was taken or reported), and
    payments failed in the last week whose customer was never told (a failure a gateway
    reports is applied when it arrives, and its notice queued on its own).

    `older_than` must be longer than any wait the pipeline makes on purpose (retries, tasks
    running); payments of a paused gateway wait on purpose too, and are left out. Served by the
    index on (status, created_at): few payments are pending, processing or failed this week.
    """
    now = timezone.now()
    cutoff = now - older_than
    pipeline_gateways = [Gateway.CARD, Gateway.BALANCE]
    told = PaymentEvent.objects.filter(
        payment=OuterRef("pk"), type=f"notified_{PaymentStatus.FAILED}"
    )
    return (
        Payment.objects.filter(
            Q(status=PaymentStatus.PENDING, gateway__in=pipeline_gateways, created_at__lt=cutoff)
            | Q(status=PaymentStatus.PROCESSING, updated_at__lt=cutoff)
            | (
                Q(
                    status=PaymentStatus.FAILED,
                    created_at__gte=now - _FAILURE_NOTICE_WINDOW,
                    updated_at__lt=cutoff,
                )
                & ~Exists(told)
            )
        )
        .exclude(gateway__in=gateways_paused())
        .order_by("created_at")
    )


def payments_needing_review_count() -> int:
    """Payments flagged for a person: one range of the index on (needs_review, created_at)."""
    return Payment.objects.filter(needs_review=True).count()


@dataclass(frozen=True)
class UnknownOutcomes:
    """Charges and refunds sent without an answer that said what happened."""

    count: int
    oldest: datetime | None


def operations_unknown() -> UnknownOutcomes:
    """How many gateway operations have an unknown outcome, and since when the oldest: the
    janitor settles a card charge or refund within minutes, so an old one means asking the
    gateway keeps failing (its outage, our credentials) and money may have moved that no record
    shows; an ECPay refund stays unknown until a person has checked it in ECPay's back office.
    One range of the index on (status, created_at)."""
    found = GatewayOperation.objects.filter(status=OperationStatus.UNKNOWN).aggregate(
        count=Count("pk"), oldest=Min("created_at")
    )
    return UnknownOutcomes(count=found["count"], oldest=found["oldest"])


# How long after a payment failed its customer is still worth telling.
_FAILURE_NOTICE_WINDOW = timedelta(days=7)


def wallet_reported_success(*, payment_id: int) -> bool:
    """What the wallet or bank app said of a payment it reported (kept when it was validated)."""
    validated = PaymentEvent.objects.filter(payment_id=payment_id, type="validated").first()
    return bool(validated and validated.data.get("success"))


def payments_expirable(*, older_than: timedelta) -> QuerySet[Payment]:
    """Pending payments older than `older_than` that nobody can pay any more
    (`payments_nobody_can_pay`), oldest first: what the expiry sweep expires."""
    return payments_nobody_can_pay().filter(created_at__lt=timezone.now() - older_than)


def payments_nobody_can_pay() -> QuerySet[Payment]:
    """Pending payments no money can still arrive for, in primary-key (so creation) order.

    Left out: one whose ATM account or store code is still valid, or whose money ECPay may
    still be reporting (a store barcode's result comes ECPAY_BARCODE_RESULT_DELAY_HOURS after
    its deadline: `late_result_allowance`); and an ECPay payment with a notification stored and
    not yet applied (`ecpay_notification_awaiting`), which may say paid. The one home of the
    rule: `payment_expire` asks it again under the payment's lock, and the sweep never picks a
    payment it would skip, so however many wait on a late result a capped run is not spent on
    them while the abandoned ones keep holding their orders.
    """
    now = timezone.now()
    code_payable = Q(payment_code_expires_at__gte=now)
    for method, ecpay_method in ECPAY_PAGE_METHODS.items():
        code_payable |= Q(
            gateway=Gateway.ECPAY,
            method=method,
            payment_code_expires_at__gte=now - late_result_allowance(ecpay_method),
        )
    notification_awaiting = Q(gateway=Gateway.ECPAY) & Exists(
        callbacks_waiting(Gateway.ECPAY).filter(
            external_reference=OuterRef("merchant_trade_no"), signature_valid=True
        )
    )
    return (
        Payment.objects.filter(status=PaymentStatus.PENDING)
        .exclude(code_payable)
        .exclude(notification_awaiting)
        .order_by("pk")
    )


def ecpay_notification_awaiting(payment: Payment) -> bool:
    """Whether ECPay has reported on `payment` and the report waits for its worker
    (`payments.ecpay.notifications.ecpay_notification_receive` answered 1|OK and queued it):
    until it is applied, nothing may be decided that a "paid" would contradict (expire, cancel).
    """
    if payment.gateway != Gateway.ECPAY or not payment.merchant_trade_no:
        return False
    return callback_awaiting_apply(
        gateway=Gateway.ECPAY, external_reference=payment.merchant_trade_no
    )


def payment_unused(payment: Payment) -> bool:
    """Whether nobody can have paid `payment`: a pending ECPay payment whose customer was never
    sent to ECPay with it and of which ECPay has reported nothing. Such a payment gives way to
    another of its order (`payments.services.payment_abandon_unused`, which asks again under
    the payment's lock)."""
    return (
        payment.status == PaymentStatus.PENDING
        and payment.gateway == Gateway.ECPAY
        and payment.sent_to_gateway_at is None
        and not payment.payment_code
        and not ecpay_notification_awaiting(payment)
    )


@dataclass(frozen=True)
class LedgerMismatch:
    email: str
    balance: Decimal
    currency: str
    ledger_total: Decimal


def ledger_mismatches(*, user_ids: Collection[int] | None = None) -> list[LedgerMismatch]:
    """Users whose balance differs from the sum of their ledger entries (there should be none),
    among `user_ids` (every user when None).

    One query, however many users: `check_ledger` asks about a batch of users at a time.
    """
    users = User.objects.all() if user_ids is None else User.objects.filter(pk__in=user_ids)
    rows = (
        users.annotate(
            ledger_total=Coalesce(
                Sum("ledger_entries__amount"), Value(ZERO), output_field=MoneyField()
            )
        )
        .exclude(balance=F("ledger_total"))
        .order_by("pk")
        .values_list("email", "balance", "balance_currency", "ledger_total")
    )
    # SQLite returns a sum without the column's decimal places: report cents everywhere.
    return [
        LedgerMismatch(email, balance, currency, Decimal(total).quantize(CENT))
        for email, balance, currency, total in rows
    ]
