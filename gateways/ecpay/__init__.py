"""ECPay's all-in-one checkout (AioCheckOut V5): the signed checkout form (`checkout.py`), its
CheckMacValue (`signature.py`), its server notifications (`messages.py`), QueryTradeInfo and
DoAction (`client.py`); `simulator/` stands in for ECPay in development and tests. The protocol's
facts are in docs/ecpay.md.

`ecpay_config()` (`config.py`) is the way in; the names here come from the modules beside it.
"""

from gateways.ecpay.checkout import (
    AMOUNT_RANGES,
    CODE_VALIDITY,
    CheckoutForm,
    CheckoutRequest,
    EcpayMethod,
    build_checkout_form,
    code_validity,
    late_result_allowance,
    new_merchant_trade_no,
)
from gateways.ecpay.client import QueryRateLimited, TradeStatus, credit_refund, query_trade
from gateways.ecpay.config import EcpayConfig, ecpay_config
from gateways.ecpay.messages import EcpayNotification, RtnCode, parse_notification
from gateways.ecpay.signature import check_mac_matches, check_mac_value

__all__ = [
    "AMOUNT_RANGES",
    "CODE_VALIDITY",
    "CheckoutForm",
    "CheckoutRequest",
    "EcpayConfig",
    "EcpayMethod",
    "EcpayNotification",
    "QueryRateLimited",
    "RtnCode",
    "TradeStatus",
    "build_checkout_form",
    "check_mac_matches",
    "check_mac_value",
    "code_validity",
    "credit_refund",
    "ecpay_config",
    "late_result_allowance",
    "new_merchant_trade_no",
    "parse_notification",
    "query_trade",
]
