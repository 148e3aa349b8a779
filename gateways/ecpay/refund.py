"""CreditDetail/DoAction with Action R: refund part or all of a credit card trade.

Only card trades can be refunded this way (ATM and convenience-store payments are refunded by bank
transfer, outside ECPay's API), and only in production: the stage environment cannot refund.
DoAction has no idempotency key, so a request that may have reached ECPay is never sent again:
its outcome is reported as unknown, for a person to check in ECPay's back office.
"""

from decimal import Decimal
from urllib.parse import parse_qsl

import requests

from gateways.base import OutcomeUnknownError, PermanentGatewayError, TransientGatewayError
from gateways.ecpay import EcpayConfig
from gateways.ecpay.checkmac import check_mac_value
from gateways.http import failed_to_connect

REFUND = "R"


def credit_refund(
    *,
    merchant_trade_no: str,
    trade_no: str,
    amount: Decimal,
    config: EcpayConfig,
    timeout: float = 10.0,
) -> None:
    """Ask ECPay to refund `amount` (whole TWD) of a paid card trade.

    Raises TransientGatewayError when the request never reached ECPay (safe to send again),
    OutcomeUnknownError when it may have (a timeout, a 5xx, an answer we cannot read: never send
    it again), PermanentGatewayError when ECPay refused it (RtnCode other than 1).
    """
    if amount != amount.to_integral_value() or amount <= 0:
        raise ValueError(f"ECPay refunds a whole number of TWD above zero, not {amount}.")
    params = {
        "MerchantID": config.merchant_id,
        "MerchantTradeNo": merchant_trade_no,
        "TradeNo": trade_no,
        "Action": REFUND,
        "TotalAmount": str(int(amount)),
    }
    params["CheckMacValue"] = check_mac_value(
        params, hash_key=config.hash_key, hash_iv=config.hash_iv
    )
    try:
        response = requests.post(
            config.refund_url,
            data=params,
            headers={"Connection": "close"},
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.ConnectTimeout as error:
        raise TransientGatewayError("ECPay did not accept a connection.") from error
    except requests.ConnectionError as error:
        if failed_to_connect(error):
            raise TransientGatewayError("Could not connect to ECPay.") from error
        raise OutcomeUnknownError("The connection broke after the refund was sent.") from error
    except (
        requests.Timeout,
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ContentDecodingError,
    ) as error:
        raise OutcomeUnknownError("ECPay's answer to the refund did not arrive.") from error
    except requests.RequestException as error:
        raise PermanentGatewayError("The refund could not be sent.") from error

    if response.status_code != 200 or "=" not in response.text:
        raise OutcomeUnknownError(
            f"ECPay answered the refund with HTTP {response.status_code}: {response.text[:200]!r}."
        )
    fields = dict(parse_qsl(response.text, keep_blank_values=True))
    if fields.get("RtnCode") != "1":
        raise PermanentGatewayError(
            f"ECPay refused the refund: {fields.get('RtnMsg', '')[:200]}",
            code=f"ecpay_{fields.get('RtnCode', 'unknown')}",
        )
