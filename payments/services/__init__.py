"""Every write to payments, their gateway operations, and balances, one module per seam:

- `transitions`: the one function that moves a payment's status, and its timeline;
- `creation`: creating a payment and starting it (card, ECPay, balance, withdrawal);
- `outcomes`: completing, crediting, failing, cancelling, reprocessing;
- `operations`: a charge or refund at a gateway, recorded before it is sent;
- `ledger`: balances, through ledger entries only;
- `expiry`, `reviews`: expiring what waited too long; what staff record;
- `breaker`: the gateways' circuit breakers (pausing a failing gateway by itself).

Callers import from here: `from payments.services import payment_transition`. Refunds have their
own package (`payments.refunds`), and each gateway's messages theirs (`payments.ecpay`, ...).
"""

from payments.services.breaker import breaker_count_failure, breakers_probe
from payments.services.creation import (
    ECPAY_METHODS,
    balance_withdraw,
    payment_abandon_unused,
    payment_create,
    payment_create_with_card,
    payment_mark_sent_to_gateway,
    payment_record_code,
    payment_start_ecpay,
    payment_start_from_balance,
)
from payments.services.expiry import payment_expire as payment_expire
from payments.services.ledger import balance_credit, balance_debit
from payments.services.operations import (
    ChargeNotAllowed,
    OperationInFlight,
    operation_settle,
    operation_start,
)
from payments.services.outcomes import (
    payment_cancel,
    payment_complete,
    payment_credit,
    payment_fail,
    payment_may_take_money,
    payment_money_may_have_moved,
    payment_reprocess,
)
from payments.services.reviews import (
    ReasonRequired,
    discrepancy_resolve,
    payment_mark_reviewed,
    payment_note_add,
    payments_staff_event_record,
)
from payments.services.transitions import (
    payment_event_record,
    payment_event_record_once,
    payment_flag_for_review,
    payment_transition,
)

__all__ = [
    "ECPAY_METHODS",
    "ChargeNotAllowed",
    "OperationInFlight",
    "ReasonRequired",
    "balance_credit",
    "balance_debit",
    "balance_withdraw",
    "breaker_count_failure",
    "breakers_probe",
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
    "payment_event_record_once",
    "payment_fail",
    "payment_flag_for_review",
    "payment_mark_reviewed",
    "payment_mark_sent_to_gateway",
    "payment_may_take_money",
    "payment_money_may_have_moved",
    "payment_note_add",
    "payment_record_code",
    "payment_reprocess",
    "payment_start_ecpay",
    "payment_start_from_balance",
    "payment_transition",
    "payments_staff_event_record",
]
