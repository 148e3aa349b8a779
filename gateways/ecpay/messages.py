"""ECPay's server notifications: the payment result (ReturnURL) and the payment code issued for
ATM, CVS and BARCODE (PaymentInfoURL). Both are form posts with a CheckMacValue.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from gateways.base import BadSignatureError, PermanentGatewayError
from gateways.ecpay.config import EcpayConfig
from gateways.ecpay.signature import check_mac_matches

_WHOLE_NUMBER = re.compile(r"[0-9]{1,12}")
_ZERO_OR_ONE = re.compile(r"[01]")

# Every field this module reads, spelt as ECPay spells it: `_refuse_ambiguous` refuses one that
# differs from these only in letter case.
_FIELDS_READ = frozenset(
    {
        "MerchantID",
        "MerchantTradeNo",
        "RtnCode",
        "RtnMsg",
        "TradeNo",
        "TradeAmt",
        "PaymentType",
        "PaymentDate",
        "SimulatePaid",
        "CustomField1",
        "BankCode",
        "vAccount",
        "PaymentNo",
        "ExpireDate",
        "Barcode1",
        "Barcode2",
        "Barcode3",
    }
)
_FIELDS_READ_BY_LOWER_CASE = {name.lower(): name for name in _FIELDS_READ}


class RtnCode:
    """The RtnCode values that mean something to us; any other is a failure."""

    PAID = 1
    ATM_CODE_ISSUED = 2
    CVS_CODE_ISSUED = 10100073


@dataclass(frozen=True)
class EcpayNotification:
    merchant_id: str
    merchant_trade_no: str
    rtn_code: int
    # For people only: its text changes between deliveries of one notification.
    rtn_msg: str
    # ECPay's own id of the trade.
    trade_no: str
    trade_amt: Decimal
    payment_type: str
    payment_date: str
    # A payment simulated from ECPay's back office: no money moved.
    simulate_paid: bool
    custom_field1: str
    # Set by payment-code notifications only (ATM: bank code and account; CVS: payment number;
    # BARCODE: three barcodes), empty in any other.
    bank_code: str
    v_account: str
    payment_no: str
    expire_date: str
    barcodes: tuple[str, str, str]
    # Every field as received, CheckMacValue included.
    fields: dict[str, str]

    @property
    def paid(self) -> bool:
        return self.rtn_code == RtnCode.PAID

    @property
    def code_issued(self) -> bool:
        """An ATM account or store code was issued: the customer has not paid yet."""
        return self.rtn_code in (RtnCode.ATM_CODE_ISSUED, RtnCode.CVS_CODE_ISSUED)


def parse_notification(fields: Mapping[str, str], config: EcpayConfig) -> EcpayNotification:
    """Verify and read a notification's form fields.

    The CheckMacValue is checked over every field received before anything in them is believed:
    BadSignatureError if it is wrong or missing. A required field that is missing or malformed
    raises PermanentGatewayError (code "malformed_notification") naming it, and so does a
    signed notification in any form but the one ECPay sends (`_refuse_ambiguous`). A paid one
    must say whether it was simulated (SimulatePaid "0" or "1"). Whether the MerchantID is ours
    is the caller's to check, so that it can record why it refused one.
    """
    if not check_mac_matches(fields, hash_key=config.hash_key, hash_iv=config.hash_iv):
        raise BadSignatureError("The notification's CheckMacValue does not verify.")
    _refuse_ambiguous(fields)
    rtn_code = int(_required(fields, "RtnCode", _WHOLE_NUMBER))
    if rtn_code == RtnCode.PAID:
        # ECPay always sends it with a result: a paid one without it may have had it removed.
        _required(fields, "SimulatePaid", _ZERO_OR_ONE)
    code_issued = rtn_code in (RtnCode.ATM_CODE_ISSUED, RtnCode.CVS_CODE_ISSUED)
    if rtn_code == RtnCode.ATM_CODE_ISSUED:
        _required(fields, "BankCode")
        _required(fields, "vAccount")
    elif rtn_code == RtnCode.CVS_CODE_ISSUED and not (
        fields.get("PaymentNo") or fields.get("Barcode1")
    ):
        # CVS sends a payment number, BARCODE three barcodes: one of the two is needed.
        raise _malformed("PaymentNo")
    code_fields: Mapping[str, str] = fields if code_issued else {}
    return EcpayNotification(
        merchant_id=_required(fields, "MerchantID"),
        merchant_trade_no=_required(fields, "MerchantTradeNo"),
        rtn_code=rtn_code,
        rtn_msg=fields.get("RtnMsg", ""),
        trade_no=fields.get("TradeNo", ""),
        trade_amt=Decimal(_required(fields, "TradeAmt", _WHOLE_NUMBER)),
        payment_type=fields.get("PaymentType", ""),
        payment_date=fields.get("PaymentDate", ""),
        simulate_paid=fields.get("SimulatePaid") == "1",
        custom_field1=fields.get("CustomField1", ""),
        bank_code=code_fields.get("BankCode", ""),
        v_account=code_fields.get("vAccount", ""),
        payment_no=code_fields.get("PaymentNo", ""),
        expire_date=code_fields.get("ExpireDate", ""),
        barcodes=(
            code_fields.get("Barcode1", ""),
            code_fields.get("Barcode2", ""),
            code_fields.get("Barcode3", ""),
        ),
        fields=dict(fields),
    )


def _refuse_ambiguous(fields: Mapping[str, str]) -> None:
    """Refuse a signed notification whose CheckMacValue could sign another one just as well.

    ECPay joins the fields as `name=value` with `&` and lower-cases the whole before hashing, so
    the MAC says neither where a field ends nor how its name is spelt. `RtnMsg=Succeeded` and
    `SimulatePaid=1` sign as one field `RtnMsg` = `Succeeded&SimulatePaid=1`, and
    `SimulatePaid=1` as `simulatepaid=1`: either way a genuine notification keeps its MAC and
    loses the field we read, and a payment simulated in ECPay's back office passes for money.
    ECPay sends one form only (no `&` in a name or value, no `=` in a name, its own spelling),
    and only that form is believed: then each signed text has a single reading.

    The letter case of values is not signed either, and is harmless here: what decides money
    (RtnCode, TradeAmt, SimulatePaid) must be digits; MerchantID is compared with ours and
    MerchantTradeNo is ours (capitals and digits), looked up in a unique column, so a recased
    one names the same payment or none. TradeNo and the codes are ECPay's, kept as received; a
    copy that differs only in their case is the same report, not a new one
    (`payments.ecpay.notifications`).
    """
    for name, value in fields.items():
        if "&" in name or "=" in name or "&" in value:
            raise PermanentGatewayError(
                f"The notification's field {name!r} holds '&' or '=' where ECPay puts none.",
                code="malformed_notification",
            )
        spelt = _FIELDS_READ_BY_LOWER_CASE.get(name.lower(), name)
        if spelt != name:
            raise PermanentGatewayError(
                f"The notification's field {name!r} is not spelt as ECPay's {spelt!r}.",
                code="malformed_notification",
            )


def _required(fields: Mapping[str, str], name: str, pattern: re.Pattern[str] | None = None) -> str:
    value = fields.get(name, "")
    if not value or (pattern is not None and not pattern.fullmatch(value)):
        raise _malformed(name)
    return value


def _malformed(name: str) -> PermanentGatewayError:
    return PermanentGatewayError(
        f"The notification has no valid {name}.", code="malformed_notification"
    )
