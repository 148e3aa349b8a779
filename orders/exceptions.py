from core.exceptions import DomainError


class InvalidDiscountCode(DomainError):
    code = "invalid_discount_code"
    default_message = "That discount code cannot be used for this order."


class OrderTotalOutOfRange(DomainError):
    """An order nobody could pay: its total is above what one payment may be."""

    code = "amount_out_of_range"
    default_message = "The order's total is above what one payment may be."
