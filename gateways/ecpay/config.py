"""The merchant ECPay knows us as, at the host we talk to, as settings configure it."""

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
