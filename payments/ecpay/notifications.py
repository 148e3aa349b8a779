"""What ECPay's notifications mean for our payments (seed 004's ReturnURL and PaymentInfoURL).

A notification is stored before anything else (`gateways.services.callback_record`). The
request then only decides ECPay's answer (`ecpay_notification_receive`): it checks the
CheckMacValue and that the notification names a payment of ours, for its amount, and leaves the
rest to a worker, which drains the stored ones (`ecpay_notifications_apply_waiting`) and applies
each once. Applying is `ecpay_notification_accept`: under the payment's row lock it decides
whether the notification is new, a duplicate or a conflict; a new "paid" validates the payment
(pending → processing, with ECPay's TradeNo) and queues update → notify, a new failure fails it
and queues notify.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import SuspiciousOperation
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import QuerySet
from django.http import QueryDict

from gateways.base import BadSignatureError, PermanentGatewayError
from gateways.ecpay import (
    CODE_VALIDITY,
    EcpayNotification,
    code_validity,
    ecpay_config,
    parse_notification,
)
from gateways.models import CallbackOutcome, Gateway, GatewayCallback
from gateways.selectors import callback_queued_behind_another, callbacks_waiting
from gateways.services import callback_settle
from payments.limits import ECPAY_PAGE_METHODS
from payments.models import Payment, PaymentStatus
from payments.queue import (
    ECPAY_NOTIFICATIONS_DRAIN,
    PAYMENT_NOTIFY,
    PAYMENT_UPDATE,
    queue_after_commit,
)
from payments.services import (
    payment_credit,
    payment_fail,
    payment_flag_for_review,
    payment_record_code,
    payment_transition,
)

logger = logging.getLogger(__name__)

OK = "1|OK"

# A waiting ECPay notification stored less than this long ago has a drain on its way: the one
# its request queued, or the one that applies the notification before it and then reads the
# inbox again (`ecpay_notification_receive`). One waiting longer was missed (its
# drain's publish was lost, or a worker is far behind): the next notification queues a drain
# of its own, and the sweep queues one every minute.
NOTIFICATION_DRAIN_COVERS = timedelta(seconds=10)

TAIPEI = ZoneInfo("Asia/Taipei")

# The ExpireDates that are no deadline ECPay set. ECPay runs on .NET (its CheckMacValue is
# HttpUtility.UrlEncode's), which writes a date it does not have as DateTime.MinValue
# (0001/01/01) and "never" as MaxValue (9999/12/31).
# No code stays valid longer than an ATM account's 60 days (CODE_VALIDITY), plus the rest of
# the day an ATM deadline, a date, runs to; and no deadline is older than year 1000, where
# MariaDB's DATETIME starts. A deadline merely past is ECPay's word that the code is dead.
_EARLIEST_DEADLINE = datetime(1000, 1, 1, tzinfo=UTC)
_LONGEST_CODE_VALIDITY = max(
    validity.duration(validity.high) for validity in CODE_VALIDITY.values()
) + timedelta(days=1)


@dataclass(frozen=True)
class Verdict:
    outcome: str
    reason: str = ""

    @property
    def answer(self) -> str:
        """What ECPay is told: 1|OK for anything safely stored and understood."""
        return f"0|{self.reason}" if self.outcome == CallbackOutcome.REJECTED else OK


@dataclass(frozen=True)
class CheckedNotification:
    """What a notification's form is, worked out before it is stored (pure computation:
    nothing is lost if it fails), so a notification from ECPay is stored marked signed, and only
    those count as waiting for a drain (`callback_queued_behind_another`): nothing unsigned can
    hold a notification back."""

    signed: bool
    # None when unsigned, or signed with a field that is not what ECPay sends.
    notification: EcpayNotification | None


def ecpay_notification_check(body: str) -> CheckedNotification:
    try:
        notification = parse_notification(_form(body), ecpay_config())
    except BadSignatureError:
        return CheckedNotification(signed=False, notification=None)
    except PermanentGatewayError:
        return CheckedNotification(signed=True, notification=None)
    return CheckedNotification(signed=True, notification=notification)


def ecpay_notification_receive(
    *, callback: GatewayCallback, checked: CheckedNotification | None = None
) -> str:
    """Answer ECPay for a stored notification, and see that a worker will apply it. `checked`
    is what the view found of its form before storing it (read again from the body if not).

    A notification is the hottest write path we have (ECPay sends a burst after an outage), so
    the request does only what decides the answer: the CheckMacValue and the MerchantID, and
    that the MerchantTradeNo is a payment of ours for TradeAmt, read without a lock. Such a
    notification is answered 1|OK: it is stored, and ours to apply from here on. Anything else
    is rejected here and now, with the reason ECPay is told (`ecpay_notification_accept`):
    rare, and worth no hurry.

    Publishing a task costs more than the rest of the request, so a notification queues a drain
    only if none stored before it in the last `NOTIFICATION_DRAIN_COVERS` is still waiting.
    One is, and the drain that applies it reads the inbox again afterwards: this notification
    was stored before the look, so before that apply committed, and the drain finds it. In a
    burst that is one publish for many notifications. A drain whose publish was lost (the
    broker blinked) is the sweep's to replace (`payments_resume_stranded`).
    """
    checked = checked or ecpay_notification_check(callback.body)
    notification = checked.notification
    if notification is None:
        return _refuse(callback)
    ours = Payment.objects.filter(
        gateway=Gateway.ECPAY,
        merchant_trade_no=notification.merchant_trade_no,
        amount=notification.trade_amt,
    )
    if _refusal(notification) or not ours.exists():
        return _refuse(callback)
    if not callback_queued_behind_another(callback, stored_within=NOTIFICATION_DRAIN_COVERS):
        queue_after_commit(ECPAY_NOTIFICATIONS_DRAIN)
    return OK


def _refuse(callback: GatewayCallback) -> str:
    """Settle a notification the request refuses, and answer ECPay with what it was settled as.

    Through `ecpay_notification_apply`, under the callback's lock: the callback is stored and
    committed, so a drain may have taken it already, and it must be settled (and a payment
    flagged for it) once.
    """
    ecpay_notification_apply(callback_id=callback.pk)
    callback.refresh_from_db(fields=["outcome", "outcome_reason"])
    return Verdict(callback.outcome, callback.outcome_reason).answer


def ecpay_notifications_apply_waiting(*, limit: int) -> int:
    """Apply the waiting notifications oldest first, until none is left or `limit` are applied;
    returns how many were.

    Each is applied as `ecpay_notification_apply` applies one, in its own transaction under its
    row lock, and one another drain holds is skipped (SKIP LOCKED): that drain applies it, so
    drains share a backlog without waiting on each other. The inbox is read again after every
    apply, which is what `ecpay_notification_receive` counts on when it queues no drain. A
    notification whose applying hits a bug is settled rejected and the drain goes on; a
    database failure is raised and stops it (what failed is the database, not that one
    notification), leaving the notification it was applying received for the retry.
    """
    applied = 0
    while applied < limit:
        if _apply_first(callbacks_waiting(Gateway.ECPAY).select_for_update(skip_locked=True)):
            applied += 1
        else:
            break
    return applied


def ecpay_notification_apply(*, callback_id: int) -> None:
    """Apply one stored notification, at most once (a replay, or an earlier release's task).

    Under the callback's row lock (taken before the payment's, as a replay does): applied twice,
    or beside a drain, it finds the callback settled and does nothing.
    """
    _apply_first(
        GatewayCallback.objects.select_for_update().filter(
            pk=callback_id, outcome=CallbackOutcome.RECEIVED
        )
    )


def _apply_first(waiting: QuerySet[GatewayCallback]) -> bool:
    """Lock the first of `waiting` (a locking queryset) and apply it; whether there was one.

    A bug settles it rejected with the error, for staff to see and replay; a database failure
    is raised, and leaves it received for a retry.
    """
    callback_id = None
    try:
        with transaction.atomic():
            callback = waiting.first()
            if callback is None:
                return False
            callback_id = callback.pk
            ecpay_notification_accept(callback=callback)
    except (OperationalError, InterfaceError):
        raise
    except Exception as error:
        if callback_id is None:
            raise
        logger.exception("ECPay notification %s could not be applied", callback_id)
        callback_settle(
            callback_id=callback_id,
            gateway=Gateway.ECPAY,
            outcome=CallbackOutcome.REJECTED,
            reason=f"processing crashed: {type(error).__name__}: {error}",
        )
    return True


def ecpay_notification_accept(*, callback: GatewayCallback) -> str:
    """Verify a stored ECPay notification, act on it once, and return the answer for ECPay.

    The payment is read once, already under its row lock.
    """
    fields = _fields(callback)
    try:
        notification = parse_notification(fields, ecpay_config())
    except BadSignatureError:
        return _settle(callback, Verdict(CallbackOutcome.REJECTED, "CheckMacValue error"), False)
    except PermanentGatewayError as error:
        return _settle(callback, Verdict(CallbackOutcome.REJECTED, str(error)), True)

    refused = _refusal(notification)
    if refused:
        return _settle(callback, Verdict(CallbackOutcome.REJECTED, refused), True, notification)
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update()
            .filter(gateway=Gateway.ECPAY, merchant_trade_no=notification.merchant_trade_no)
            .first()
        )
        if payment is None:
            verdict = Verdict(CallbackOutcome.REJECTED, "unknown MerchantTradeNo")
            return _settle(callback, verdict, True, notification)
        if notification.trade_amt != payment.amount:
            payment_flag_for_review(
                payment_id=payment.pk,
                reason="amount_mismatch",
                data={
                    "callback": callback.pk,
                    "trade_amt": str(notification.trade_amt),
                    "difference": str(notification.trade_amt - payment.amount),
                },
            )
            verdict = Verdict(CallbackOutcome.REJECTED, "TradeAmt does not match")
        else:
            verdict = _classify(payment, notification, callback)
        return _settle(callback, verdict, True, notification, payment)


def _fields(callback: GatewayCallback) -> dict[str, str]:
    return _form(callback.body)


def _form(body: str) -> dict[str, str]:
    """The form's fields, one value each, exactly as posted (the last of repeated names); none
    for a body that is no form Django reads (more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS):
    it is then refused for its missing CheckMacValue."""
    try:
        return {key: str(value) for key, value in QueryDict(body).items()}
    except SuspiciousOperation:
        return {}


def _refusal(notification: EcpayNotification) -> str:
    """Why a correctly signed notification is still refused, or "" if it is not.

    Never its age: ECPay reports a store barcode about two days after the customer paid, and
    money reported late is still money. A replay is told by what the inbox holds
    (`_delivered_before`), and anything else by the payment's state.
    """
    if notification.merchant_id != ecpay_config().merchant_id:
        return "another MerchantID"
    return ""


def _classify(
    payment: Payment, notification: EcpayNotification, callback: GatewayCallback
) -> Verdict:
    """Decide, under the payment's lock, what this notification is and do the one thing it asks."""
    earlier = _delivered_before(payment, notification, callback)
    if earlier is not None:
        return Verdict(CallbackOutcome.DUPLICATE, f"already applied as callback {earlier}")
    if notification.code_issued:
        return _code_issued(payment, notification, callback)
    if notification.simulate_paid:
        # A payment simulated from ECPay's back office: kept as evidence, never money.
        payment_flag_for_review(
            payment_id=payment.pk, reason="simulate_paid", data={"callback": callback.pk}
        )
        return Verdict(CallbackOutcome.ACCEPTED, "SimulatePaid=1: quarantined, not applied")
    if notification.paid:
        return ecpay_paid(payment, trade_no=notification.trade_no, source={"callback": callback.pk})
    return _failed(payment, notification)


def ecpay_paid(payment: Payment, *, trade_no: str, source: dict[str, object]) -> Verdict:
    """ECPay says `payment` is paid as `trade_no` (a notification, or reconciliation's query).

    Call under the payment's row lock. The one code path for "paid", whoever reports it: a new
    result validates the payment and queues update → notify; a repeat is a duplicate. Money
    for a payment we had given up on (failed with nothing taken, cancelled, expired) pays
    nothing: it is credited to the customer's balance and flagged (`payment_credit`), and the
    customer told. A different TradeNo for money already applied is flagged for a person.
    """
    if payment.status == PaymentStatus.PENDING:
        payment_transition(
            payment_id=payment.pk,
            to=PaymentStatus.PROCESSING,
            event="validated",
            data={"source": "ecpay", **source},
            changes={"gateway_reference": trade_no},
            locked=payment,
        )
        queue_after_commit(PAYMENT_UPDATE, payment.pk)
        return Verdict(CallbackOutcome.ACCEPTED)
    if payment.gateway_reference == trade_no:
        return Verdict(CallbackOutcome.DUPLICATE)
    if payment.gateway_reference or payment.status not in _GAVE_UP:
        payment_flag_for_review(
            payment_id=payment.pk,
            reason="conflicting_trade_no",
            data={"trade_no": trade_no, **source},
        )
        return Verdict(CallbackOutcome.DUPLICATE, "conflicts with the TradeNo already applied")
    was = payment.status
    payment_credit(
        payment_id=payment.pk,
        reason=f"paid_while_{was}",
        data={"trade_no": trade_no, **source},
        gateway_reference=trade_no,
        locked=payment,
    )
    queue_after_commit(PAYMENT_NOTIFY, payment.pk)
    return Verdict(CallbackOutcome.ACCEPTED, f"paid while {was}: credited to the balance")


# Payments we gave up on: money ECPay reports for one of them paid nothing.
_GAVE_UP = frozenset({PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.EXPIRED})


def _failed(payment: Payment, notification: EcpayNotification) -> Verdict:
    if payment.status != PaymentStatus.PENDING:
        # Late or out of order: a failure never downgrades a payment that moved on.
        return Verdict(CallbackOutcome.DUPLICATE, f"failure ignored: payment is {payment.status}")
    # Failed here, under the lock, not later on the worker: a duplicate of this notification
    # then finds the payment failed, and is a duplicate rather than a second failure.
    payment_fail(
        payment_id=payment.pk, reason=f"ECPay RtnCode {notification.rtn_code}", needs_review=False
    )
    queue_after_commit(PAYMENT_NOTIFY, payment.pk)
    return Verdict(CallbackOutcome.ACCEPTED)


def _code_issued(
    payment: Payment, notification: EcpayNotification, callback: GatewayCallback
) -> Verdict:
    # ATM: the virtual account; CVS: the payment number; BARCODE: its three barcodes.
    code = (
        notification.v_account
        or notification.payment_no
        or " ".join(part for part in notification.barcodes if part)
    )
    if payment.payment_code == code:
        return Verdict(CallbackOutcome.DUPLICATE)
    if payment.status != PaymentStatus.PENDING:
        return Verdict(CallbackOutcome.DUPLICATE, f"code ignored: payment is {payment.status}")
    expires_at, reason = _code_deadline(payment, notification, callback)
    payment_record_code(
        payment_id=payment.pk, code=code, bank=notification.bank_code, expires_at=expires_at
    )
    return Verdict(CallbackOutcome.ACCEPTED, reason)


def _code_deadline(
    payment: Payment, notification: EcpayNotification, callback: GatewayCallback
) -> tuple[datetime | None, str]:
    """Until when the code can be paid, and "" or why that is not ECPay's ExpireDate.

    An ExpireDate that is no deadline (unreadable, or one of .NET's stand-ins for none:
    `_EARLIEST_DEADLINE`) is replaced, the payment flagged for a person. The code is still
    ECPay's and the customer needs it to pay, so it is kept (refusing the notification would
    refuse every redelivery of it too), but not without a deadline: the expiry sweep would then
    expire the payment a day after it was created (EXPIRE_PENDING_AFTER_MINUTES) while the code
    can still be paid, and the money would end as a balance credit, not a paid order; nor with
    9999's, which would hold the payment and its order pending for ever. The validity we asked
    ECPay for, counted from the notification, errs late: the payment waits a little longer.
    """
    stated = _taipei_time(notification.expire_date)
    received_at = callback.created_at
    if stated is not None and (
        _EARLIEST_DEADLINE <= stated <= received_at + _LONGEST_CODE_VALIDITY
    ):
        return stated, ""
    assumed = _deadline_asked_for(payment, counted_from=received_at)
    logger.warning(
        "ECPay notification %s: unusable ExpireDate %r, deadline assumed %s",
        callback.pk,
        notification.expire_date,
        assumed,
    )
    payment_flag_for_review(
        payment_id=payment.pk,
        reason="ecpay_expire_date_unusable",
        data={
            "callback": callback.pk,
            "expire_date": notification.expire_date,
            "assumed": assumed.isoformat() if assumed else None,
        },
    )
    return assumed, f"ExpireDate {notification.expire_date!r} unusable: deadline assumed"


def _deadline_asked_for(payment: Payment, *, counted_from: datetime) -> datetime | None:
    """The deadline our checkout form asked ECPay for `payment`'s code (CODE_VALIDITY), from
    `counted_from`; None for a method that has no code."""
    method = ECPAY_PAGE_METHODS.get(payment.method)
    if method is None or method not in CODE_VALIDITY:
        return None
    return counted_from + code_validity(method)


def _settle(
    callback: GatewayCallback,
    verdict: Verdict,
    signature_valid: bool,
    notification: EcpayNotification | None = None,
    payment: Payment | None = None,
) -> str:
    callback_settle(
        callback_id=callback.pk,
        gateway=callback.gateway,
        outcome=verdict.outcome,
        reason=verdict.reason,
        signature_valid=signature_valid,
        payment_id=payment.pk if payment else None,
        external_reference=notification.merchant_trade_no if notification else "",
    )
    return verdict.answer


def _taipei_time(text: str) -> datetime | None:
    """ECPay's dates: yyyy/MM/dd[ HH:mm:ss], Taiwan time. A date alone means the end of it.

    In UTC, as it is stored; None for text that is no such date, or a date with no UTC time
    (the first hours of year 1, the end of 9999/12/31): converting it overflows.
    """
    for pattern, end_of_day in (("%Y/%m/%d %H:%M:%S", False), ("%Y/%m/%d", True)):
        try:
            moment = datetime.strptime(text, pattern).replace(tzinfo=TAIPEI)
        except ValueError:
            continue
        try:
            if end_of_day:
                moment += timedelta(days=1, seconds=-1)
            return moment.astimezone(UTC)
        except OverflowError:
            return None
    return None


def _delivered_before(
    payment: Payment, notification: EcpayNotification, callback: GatewayCallback
) -> int | None:
    """The id of a notification about `payment` already applied that said the same (TradeNo,
    RtnCode, TradeAmt and SimulatePaid; a code's too), or None: this one is then a redelivery
    or a replay, and does nothing.

    Read under the payment's row lock, which every apply about it takes: two copies applied at
    once are told apart. The payment's state would refuse most copies anyway; this says why,
    whatever the payment has become since (refunded, credited).
    """
    applied = GatewayCallback.objects.filter(
        gateway=Gateway.ECPAY, payment=payment, outcome=CallbackOutcome.ACCEPTED
    ).exclude(pk=callback.pk)
    for earlier_id, body in applied.values_list("pk", "body"):
        earlier = ecpay_notification_check(body).notification
        if earlier is not None and _same_report(earlier, notification):
            return int(earlier_id)
    return None


def _same_report(one: EcpayNotification, other: EcpayNotification) -> bool:
    # Never RtnMsg or PaymentDate: ECPay's text changes between deliveries of one result. A
    # code notification is the same report only with the same code.
    return _report(one) == _report(other)


def _report(notification: EcpayNotification) -> tuple[object, ...]:
    # ECPay's ids and codes compared in capitals: the CheckMacValue does not sign letter case,
    # so a signed copy recased by whoever holds one is the same report, never a new TradeNo or
    # code that would replace the one applied.
    return (
        notification.trade_no.upper(),
        notification.rtn_code,
        notification.trade_amt,
        notification.simulate_paid,
        notification.v_account.upper(),
        notification.payment_no.upper(),
        tuple(part.upper() for part in notification.barcodes),
    )
