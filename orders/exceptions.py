from core.exceptions import DomainError


class InvalidDiscountCode(DomainError):
    code = "invalid_discount_code"
    default_message = "That discount code cannot be used for this order."
