"""Expiring payments nobody paid: `manage.py expire_pending` calls it, one payment at a time."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from gateways.ecpay import late_result_allowance
from gateways.models import Gateway
from payments.limits import ECPAY_PAGE_METHODS
from payments.models import Payment, PaymentStatus
from payments.selectors import ecpay_notification_awaiting
from payments.services.transitions import payment_transition


def payment_expire(*, payment_id: int) -> Payment:
    """Move a pending payment to `expired`; return it as it now is.

    Locks the payment row, then decides: a payment that moved on meanwhile (the pipeline took
    it up, the customer cancelled, an earlier run expired it) is returned unchanged, not an
    error. So is one whose ATM account or store code is still valid: the customer may pay with
    it until its deadline, and that money must find a pending payment; a store barcode stays
    pending for ECPAY_BARCODE_RESULT_DELAY_HOURS more, as ECPay reports one about two days after
    the customer paid (`code_payable_until`). So is an ECPay payment
    with a notification stored and not yet applied (`ecpay_notification_receive` answered
    1|OK and queued it): it may say paid, and expiring the payment under it would turn the
    customer's money into a "paid while expired" case for staff. Raises nothing of its own.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != PaymentStatus.PENDING:
            return payment
        deadline = code_payable_until(payment)
        if deadline is not None and deadline >= timezone.now():
            return payment
        if ecpay_notification_awaiting(payment):
            return payment
        return payment_transition(
            payment_id=payment_id,
            to=PaymentStatus.EXPIRED,
            event="expired",
            data={"pending_since": payment.created_at.isoformat()},
        )


def code_payable_until(payment: Payment) -> datetime | None:
    """Until when money paid with `payment`'s ATM account or store code may still be reported:
    the code's deadline, plus ECPay's delay in reporting its method (`late_result_allowance`).
    None when no code was issued."""
    deadline = payment.payment_code_expires_at
    if deadline is None:
        return None
    method = ECPAY_PAGE_METHODS.get(payment.method)
    if payment.gateway != Gateway.ECPAY or method is None:
        return deadline
    return deadline + late_result_allowance(method)
