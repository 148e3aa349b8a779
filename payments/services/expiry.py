"""Expiring payments nobody paid: `manage.py expire_pending` calls it, one payment at a time."""

from django.db import transaction

from payments.models import Payment, PaymentStatus
from payments.selectors import payments_nobody_can_pay
from payments.services.transitions import payment_transition


def payment_expire(*, payment_id: int) -> Payment:
    """Move a pending payment to `expired`; return it as it now is.

    Locks the payment row, then decides: a payment that moved on meanwhile (the pipeline took
    it up, the customer cancelled, an earlier run expired it) is returned unchanged, not an
    error. So is one somebody may still pay (`payments_nobody_can_pay` leaves it out, the
    sweep's own selector, so the two cannot disagree): its ATM account or store code is still
    valid, and that money must find a pending payment; a store barcode stays pending for
    ECPAY_BARCODE_RESULT_DELAY_HOURS more, as ECPay reports one about two days after the
    customer paid; an ECPay payment with a notification stored and not yet applied
    (`ecpay_notification_receive` answered 1|OK and queued it) may be paid, and expiring it
    would turn the customer's money into a "paid while expired" case for staff. Raises nothing
    of its own.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != PaymentStatus.PENDING:
            return payment
        if not payments_nobody_can_pay().filter(pk=payment_id).exists():
            return payment
        return payment_transition(
            payment_id=payment_id,
            to=PaymentStatus.EXPIRED,
            event="expired",
            data={"pending_since": payment.created_at.isoformat()},
        )
