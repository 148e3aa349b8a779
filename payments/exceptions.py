from core.exceptions import DomainError


class InvalidPayment(DomainError):
    code = "invalid_payment"
    default_message = "The payment request is not valid."


class OrderPaymentInProgress(DomainError):
    """Another payment of the order holds its claim (`Payment.claimed_order`) and is on its way:
    a second one could take the money twice. `payment` names it."""

    code = "order_payment_in_progress"
    http_status = 409
    default_message = (
        "Another payment of this order is under way. Finish it, or cancel it before paying "
        "another way."
    )
    shown_extra = ("payment",)


class OrderAlreadyPaid(DomainError):
    """The order's claim is held by the payment that paid it. `payment` names it."""

    code = "order_already_paid"
    http_status = 409
    default_message = "This order has been paid."
    shown_extra = ("payment",)


class AmountOutOfRange(DomainError):
    """An amount outside what may be paid, deposited or held (`payments.limits`)."""

    code = "amount_out_of_range"
    default_message = "The amount is outside what can be paid here."


class InsufficientBalance(DomainError):
    code = "insufficient_balance"
    http_status = 409
    default_message = "The balance is too low for this amount."


class CurrencyMismatch(DomainError):
    code = "currency_mismatch"
    default_message = "The amount's currency is not the balance's currency."


class CardRejected(DomainError):
    code = "card_rejected"
    default_message = "The card provider did not accept this card."


class GatewayUnavailable(DomainError):
    code = "gateway_unavailable"
    http_status = 503
    default_message = "The payment provider cannot be reached right now. Try again shortly."


class GatewayFailure(DomainError):
    code = "gateway_error"
    http_status = 502
    default_message = "The payment provider answered with an error."


class PaymentBeingSettled(DomainError):
    """The gateway has reported on the payment and the report is still being applied: what it
    says (perhaps paid) decides what may be done with the payment next."""

    code = "payment_being_settled"
    http_status = 409
    default_message = (
        "The payment provider has just reported on this payment and it is being applied. "
        "Look again in a moment."
    )


class InvalidRefund(DomainError):
    code = "invalid_refund"
    default_message = "The refund request is not valid."


class RefundInProgress(DomainError):
    code = "refund_in_progress"
    http_status = 409
    default_message = "A refund of this payment is still being made. Try again when it is done."


class PaymentNotRefundable(DomainError):
    code = "payment_not_refundable"
    http_status = 409
    default_message = "This payment cannot be refunded here."
