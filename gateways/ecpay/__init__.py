"""ECPay's all-in-one checkout (AioCheckOut V5): the signed checkout form (`checkout.py`), its
CheckMacValue (`signature.py`), its server notifications (`messages.py`), QueryTradeInfo and
DoAction (`client.py`); `simulator/` stands in for ECPay in development and tests. The protocol's
facts are in docs/ecpay.md.

`ecpay_config()` is the way in; every other name here comes from the modules beside it.
"""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class EcpayConfig:
    """One merchant at one ECPay host (stage, production or the simulator)."""

    merchant_id: str
    hash_key: str
    hash_iv: str
    # No trailing slash: https://payment-stage.ecpay.com.tw or .../simulators/ecpay
    base_url: str

    @property
    def checkout_url(self) -> str:
        return f"{self.base_url}/Cashier/AioCheckOut/V5"

    @property
    def query_url(self) -> str:
        return f"{self.base_url}/Cashier/QueryTradeInfo/V5"

    @property
    def refund_url(self) -> str:
        return f"{self.base_url}/CreditDetail/DoAction"


def ecpay_config() -> EcpayConfig:
    """The merchant as settings configure it now: read at each call, so tests can override them."""
    return EcpayConfig(
        merchant_id=settings.ECPAY_MERCHANT_ID,
        hash_key=settings.ECPAY_HASH_KEY,
        hash_iv=settings.ECPAY_HASH_IV,
        base_url=settings.ECPAY_BASE_URL.rstrip("/"),
    )


# Below the definitions above on purpose: these modules import EcpayConfig from this package.
from gateways.ecpay.checkout import (  # noqa: E402
    AMOUNT_RANGES,
    CheckoutForm,
    CheckoutRequest,
    EcpayMethod,
    build_checkout_form,
    new_merchant_trade_no,
)
from gateways.ecpay.client import QueryRateLimited, TradeStatus, credit_refund, query_trade  # noqa: E402
from gateways.ecpay.messages import EcpayNotification, RtnCode, parse_notification  # noqa: E402
from gateways.ecpay.signature import check_mac_matches, check_mac_value  # noqa: E402

__all__ = [
    "AMOUNT_RANGES",
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
    "credit_refund",
    "ecpay_config",
    "new_merchant_trade_no",
    "parse_notification",
    "query_trade",
]
