"""Every write to payments, their gateway operations, and balances (see each module).

Callers import from here: `from payments.services import payment_transition`.
"""

from payments.services.expiry import payment_expire as payment_expire
from payments.services.ledger import balance_credit, balance_debit
from payments.services.operations import (
    ChargeNotAllowed,
    OperationInFlight,
    operation_settle,
    operation_start,
)
from payments.services.payments import (
    ECPAY_METHODS,
    balance_withdraw,
    payment_abandon_unused,
    payment_cancel,
    payment_complete,
    payment_create,
    payment_create_with_card,
    payment_credit,
    payment_event_record,
    payment_fail,
    payment_flag_for_review,
    payment_mark_sent_to_gateway,
    payment_may_take_money,
    payment_money_may_have_moved,
    payment_record_code,
    payment_reprocess,
    payment_start_ecpay,
    payment_start_from_balance,
    payment_transition,
)
from payments.services.refunds import refund_apply, refund_request
from payments.services.reviews import (
    ReasonRequired,
    discrepancy_resolve,
    payment_mark_reviewed,
    payments_staff_event_record,
)

# isort: split
# Last: it starts refunds through `payments.tasks`, which imports the services above.
from payments.services.refund_approvals import (
    RefundApprovalForbidden,
    RefundAsked,
    refund_approve,
    refund_ask,
    refund_reject,
)

__all__ = [
    "ECPAY_METHODS",
    "ChargeNotAllowed",
    "OperationInFlight",
    "ReasonRequired",
    "RefundApprovalForbidden",
    "RefundAsked",
    "balance_credit",
    "balance_debit",
    "balance_withdraw",
    "discrepancy_resolve",
    "operation_settle",
    "operation_start",
    "payment_abandon_unused",
    "payment_cancel",
    "payment_complete",
    "payment_create",
    "payment_create_with_card",
    "payment_credit",
    "payment_event_record",
    "payment_fail",
    "payment_flag_for_review",
    "payment_mark_reviewed",
    "payment_mark_sent_to_gateway",
    "payment_may_take_money",
    "payment_money_may_have_moved",
    "payment_record_code",
    "payment_reprocess",
    "payment_start_ecpay",
    "payment_start_from_balance",
    "payment_transition",
    "payments_staff_event_record",
    "refund_apply",
    "refund_approve",
    "refund_ask",
    "refund_reject",
    "refund_request",
]
