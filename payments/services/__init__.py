"""Every write to payments, their gateway operations, and balances (see each module).

Callers import from here: `from payments.services import payment_transition`.
"""

from payments.services.ledger import balance_credit, balance_debit
from payments.services.operations import OperationInFlight, operation_settle, operation_start
from payments.services.payments import (
    ECPAY_METHODS,
    balance_withdraw,
    payment_cancel,
    payment_complete,
    payment_create,
    payment_create_with_card,
    payment_event_record,
    payment_fail,
    payment_flag_for_review,
    payment_record_code,
    payment_reprocess,
    payment_start_ecpay,
    payment_start_from_balance,
    payment_transition,
)
from payments.services.refunds import refund_apply, refund_request

__all__ = [
    "ECPAY_METHODS",
    "OperationInFlight",
    "balance_credit",
    "balance_debit",
    "balance_withdraw",
    "operation_settle",
    "operation_start",
    "payment_cancel",
    "payment_complete",
    "payment_create",
    "payment_create_with_card",
    "payment_event_record",
    "payment_fail",
    "payment_flag_for_review",
    "payment_record_code",
    "payment_reprocess",
    "payment_start_ecpay",
    "payment_start_from_balance",
    "payment_transition",
    "refund_apply",
    "refund_request",
]
