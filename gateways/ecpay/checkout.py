"""The checkout form: what our page makes the customer's browser post to ECPay (AioCheckOut V5).

No server-side call: ECPay takes the order from the browser, so the form carries its own
CheckMacValue and every value in it is final once signed.
"""

import re
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from gateways.ecpay.config import EcpayConfig
from gateways.ecpay.signature import check_mac_value

# ECPay's dates are Taiwan time, written like 2023/03/12 15:30:23.
TAIPEI = ZoneInfo("Asia/Taipei")
DATETIME_FORMAT = "%Y/%m/%d %H:%M:%S"

MERCHANT_TRADE_NO = re.compile(r"[A-Za-z0-9]{1,20}")
TRADE_DESC_MAX_LENGTH = 200
ITEM_NAME_MAX_LENGTH = 400
# ECPay refuses "special characters" in these fields without listing them: letters and digits
# of any script, spaces and this plain punctuation are all that is sent. `#` is not among them
# because it separates item names.
_PLAIN_PUNCTUATION = frozenset(" -_.,:/()")
_BASE36 = string.digits + string.ascii_uppercase


class EcpayMethod(StrEnum):
    """ChoosePayment: the payment method ECPay's page offers the customer."""

    CREDIT = "Credit"
    ATM = "ATM"
    CVS = "CVS"
    BARCODE = "BARCODE"
    ALL = "ALL"


# What one order may be, in whole TWD, for each way to pay on ECPay's page: ECPay refuses to
# create an order outside its method's range ("單筆訂單建立金額", ECPay's fees page,
# https://www.ecpay.com.tw/Business/Payment_Fees). A merchant with a contract of its own may have
# other ranges; these are ECPay's published ones.
AMOUNT_RANGES: dict[EcpayMethod, tuple[int, int]] = {
    EcpayMethod.CREDIT: (5, 199_999),
    EcpayMethod.ATM: (11, 49_999),
    EcpayMethod.CVS: (33, 6_000),
    EcpayMethod.BARCODE: (17, 20_000),
}


@dataclass(frozen=True)
class CodeValidity:
    """How a checkout form says how long an issued ATM account or store code stays valid: the
    form field, its unit, the range ECPay takes, and the setting that chooses it."""

    field: str
    unit: str  # "days" or "minutes"
    low: int
    high: int
    setting: str

    def duration(self, value: int) -> timedelta:
        return timedelta(days=value) if self.unit == "days" else timedelta(minutes=value)


# ECPay's AioCheckOut pages: ATM ExpireDate is days, 1 to 60 (ECPay's default 3); CVS
# StoreExpireDate is minutes, 1 to 43,200 (30 days; default 10,080, a week); BARCODE
# StoreExpireDate is days, 1 to 30 (default 7). The same field name in two units: a CVS value
# sent for a barcode (10080 "days") is refused by ECPay. `gateways.checks` refuses a setting
# out of its range at start-up.
CODE_VALIDITY: dict[EcpayMethod, CodeValidity] = {
    EcpayMethod.ATM: CodeValidity("ExpireDate", "days", 1, 60, "ECPAY_ATM_EXPIRE_DAYS"),
    EcpayMethod.CVS: CodeValidity(
        "StoreExpireDate", "minutes", 1, 43_200, "ECPAY_CVS_EXPIRE_MINUTES"
    ),
    EcpayMethod.BARCODE: CodeValidity(
        "StoreExpireDate", "days", 1, 30, "ECPAY_BARCODE_EXPIRE_DAYS"
    ),
}


def code_validity(method: EcpayMethod) -> timedelta:
    """How long a code issued for `method` stays valid, as settings choose it."""
    validity = CODE_VALIDITY[method]
    return validity.duration(getattr(settings, validity.setting))


def late_result_allowance(method: EcpayMethod) -> timedelta:
    """How long after the customer paid ECPay may still be telling us: a store barcode's
    result comes about two days later (ECPAY_BARCODE_RESULT_DELAY_HOURS), the others at once."""
    if method == EcpayMethod.BARCODE:
        return timedelta(hours=settings.ECPAY_BARCODE_RESULT_DELAY_HOURS)
    return timedelta(0)


def new_merchant_trade_no() -> str:
    """A fresh MerchantTradeNo: "P", the Taiwan time to the second, 7 random base-36 characters.

    20 letters and digits, as ECPay allows. ECPay refuses a number it has seen, even from a
    checkout that was abandoned, so every attempt to pay takes a new one.
    """
    stamp = timezone.now().astimezone(TAIPEI).strftime("%y%m%d%H%M%S")
    suffix = "".join(secrets.choice(_BASE36) for _ in range(7))
    return f"P{stamp}{suffix}"


@dataclass(frozen=True)
class CheckoutRequest:
    merchant_trade_no: str
    # Whole TWD: ECPay takes no fractions.
    total_amount: Decimal
    item_names: Sequence[str]
    trade_desc: str
    method: EcpayMethod
    # Server to server: ECPay's payment result notification.
    return_url: str
    # The customer's browser, with the result (Credit only; never fulfil from it).
    order_result_url: str
    # The customer's browser, when they leave ECPay's page without a result.
    client_back_url: str
    # Server to server: the ATM account or store code issued (ATM, CVS, BARCODE).
    payment_info_url: str
    # Echoed back in every notification: our payment's public id.
    custom_field1: str = ""
    # Aware; None means now.
    trade_date: datetime | None = None

    def __post_init__(self) -> None:
        amount = self.total_amount
        if not isinstance(amount, Decimal):
            # A float would have lost its exactness before it got here.
            raise TypeError(f"total_amount must be a Decimal, not {type(amount).__name__}.")
        if not (amount.is_finite() and amount > 0 and amount == amount.to_integral_value()):
            raise ValueError(f"ECPay takes a whole number of TWD above zero, not {amount}.")
        if not MERCHANT_TRADE_NO.fullmatch(self.merchant_trade_no):
            raise ValueError("A MerchantTradeNo is 1 to 20 letters and digits.")
        if self.trade_date is not None and timezone.is_naive(self.trade_date):
            raise ValueError("trade_date must be timezone-aware.")


@dataclass(frozen=True)
class CheckoutForm:
    """Post `fields` to `action` from the customer's browser, as they are."""

    action: str
    fields: dict[str, str]


def build_checkout_form(request: CheckoutRequest, config: EcpayConfig) -> CheckoutForm:
    """The signed AioCheckOut V5 form for `request`.

    Raises ValueError when nothing is left of the description or of every item name once the
    characters ECPay refuses are taken out.
    """
    trade_date = request.trade_date or timezone.now()
    fields = {
        "MerchantID": config.merchant_id,
        "MerchantTradeNo": request.merchant_trade_no,
        "MerchantTradeDate": trade_date.astimezone(TAIPEI).strftime(DATETIME_FORMAT),
        "PaymentType": "aio",
        "TotalAmount": str(int(request.total_amount)),
        "TradeDesc": _trade_desc(request.trade_desc),
        "ItemName": _item_name(request.item_names),
        "ReturnURL": request.return_url,
        "OrderResultURL": request.order_result_url,
        "ClientBackURL": request.client_back_url,
        "ChoosePayment": request.method.value,
        "EncryptType": "1",
        "NeedExtraPaidInfo": "N",
        "CustomField1": request.custom_field1,
    }
    validity = CODE_VALIDITY.get(request.method)
    if validity is not None:
        fields[validity.field] = str(getattr(settings, validity.setting))
        fields["PaymentInfoURL"] = request.payment_info_url
    fields["CheckMacValue"] = check_mac_value(
        fields, hash_key=config.hash_key, hash_iv=config.hash_iv
    )
    return CheckoutForm(action=config.checkout_url, fields=fields)


def _trade_desc(text: str) -> str:
    desc = _plain(text)[:TRADE_DESC_MAX_LENGTH].strip()
    if not desc:
        raise ValueError("Nothing is left of the trade description to send to ECPay.")
    return desc


def _item_name(names: Sequence[str]) -> str:
    """Names joined by `#`, as many whole ones as fit in 400 characters (at least a cut first)."""
    cleaned = [name for name in map(_plain, names) if name]
    if not cleaned:
        raise ValueError("No item name is left to send to ECPay.")
    joined = cleaned[0][:ITEM_NAME_MAX_LENGTH].strip()
    for name in cleaned[1:]:
        longer = f"{joined}#{name}"
        if len(longer) > ITEM_NAME_MAX_LENGTH:
            break
        joined = longer
    return joined


def _plain(text: str) -> str:
    """Text with every character ECPay may refuse made a space, and runs of spaces made one."""
    kept = "".join(char if char.isalnum() or char in _PLAIN_PUNCTUATION else " " for char in text)
    return " ".join(kept.split())
