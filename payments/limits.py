"""How much money may move at once, and how much a balance may hold.

Every amount is checked here before any money moves: a payment or a deposit when it is created
(`payments.services.payment_create`), a wallet's amount when its callback arrives. A refusal is
`AmountOutOfRange`: a 400 naming the field and the range. The limits are settings
(PAYMENT_MAX_AMOUNT, DEPOSIT_MAX_AMOUNT, BALANCE_MAX_AMOUNT, in the payment's currency) and ECPay's
own range for each way to pay on its page. Each setting sits far below what a money column holds
(`core.models.MONEY_MAX`, checked at start-up by `payments.checks`), so a balance credited with
money that arrived anyway still fits its column.
"""

from decimal import Decimal

from django.conf import settings
from django.utils import translation

from core.models import ZERO
from gateways.ecpay import AMOUNT_RANGES, EcpayMethod
from gateways.models import Gateway
from payments.exceptions import AmountOutOfRange
from payments.models import PaymentKind, PaymentMethod

# What a customer can pay with on ECPay's page, and the ChoosePayment that offers it.
ECPAY_PAGE_METHODS: dict[str, EcpayMethod] = {
    PaymentMethod.CARD: EcpayMethod.CREDIT,
    PaymentMethod.ATM: EcpayMethod.ATM,
    PaymentMethod.CVS: EcpayMethod.CVS,
    PaymentMethod.BARCODE: EcpayMethod.BARCODE,
}


def amount_check(
    *, kind: str, gateway: str, method: str, amount: Decimal, currency: str, field: str = "amount"
) -> None:
    """Raise `AmountOutOfRange` (naming `field`) unless `amount` may be paid this way: above
    zero, at most PAYMENT_MAX_AMOUNT for an order or DEPOSIT_MAX_AMOUNT for a deposit, and
    within ECPay's range for the method on its page. A withdrawal is bounded by the balance."""
    if amount <= ZERO:
        raise AmountOutOfRange(fields={field: ["Must be greater than zero."]})
    maximums: dict[str, Decimal] = {
        PaymentKind.ORDER: settings.PAYMENT_MAX_AMOUNT,
        PaymentKind.DEPOSIT: settings.DEPOSIT_MAX_AMOUNT,
    }
    maximum = maximums.get(kind)
    if maximum is not None and amount > maximum:
        what = "A deposit" if kind == PaymentKind.DEPOSIT else "A payment"
        raise AmountOutOfRange(fields={field: [f"{what} is at most {maximum} {currency}."]})
    if gateway == Gateway.ECPAY and method in ECPAY_PAGE_METHODS:
        low, high = AMOUNT_RANGES[ECPAY_PAGE_METHODS[method]]
        if not low <= amount <= high:
            # The API's messages are English whatever the caller's language (labels follow it).
            with translation.override("en"):
                label = str(PaymentMethod(method).label)
            raise AmountOutOfRange(
                fields={field: [f"ECPay takes {label} payments of {low} to {high} TWD."]}
            )


def balance_room_check(*, balance: Decimal, amount: Decimal, currency: str) -> None:
    """Raise `AmountOutOfRange` if a deposit of `amount` would take `balance` (the balance as
    the caller read it) past BALANCE_MAX_AMOUNT.

    Deposits not paid yet are not counted, and no lock is taken: a customer who starts several
    at once can go past the limit by what they pay. That is a limit's overshoot, never a
    column's: each deposit is at most DEPOSIT_MAX_AMOUNT, every limit is a thousandth of what
    the column holds (`payments.checks`), and money that arrives is always credited.
    """
    room = settings.BALANCE_MAX_AMOUNT - balance
    if amount > room:
        raise AmountOutOfRange(
            fields={
                "amount": [
                    f"A balance holds at most {settings.BALANCE_MAX_AMOUNT} {currency}: "
                    f"{max(room, ZERO)} {currency} more can be deposited now."
                ]
            }
        )
