"""What we send ECPay, outside the customer's checkout form (`checkout.py`):

- QueryTradeInfo V5 (`query_trade`): what became of a trade (reconciliation, lost notifications);
- CreditDetail/DoAction with Action R (`credit_refund`): refund part or all of a credit card
  trade.

Only card trades can be refunded this way (ATM and convenience-store payments are refunded by bank
transfer, outside ECPay's API), and only in production: the stage environment cannot refund.
DoAction has no idempotency key, so a request that may have reached ECPay is never sent again:
its outcome is reported as unknown, for a person to check in ECPay's back office.
"""

import re
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qsl

import requests

from gateways.base import (
    BadSignatureError,
    OutcomeUnknownError,
    PermanentGatewayError,
    TransientGatewayError,
)
from gateways.ecpay.config import EcpayConfig
from gateways.ecpay.signature import check_mac_matches, check_mac_value
from gateways.http import failed_to_connect
from gateways.metrics import measured

_WHOLE_NUMBER = re.compile(r"[0-9]{1,12}")

# Its name in the metrics: Gateway.ECPAY.
GATEWAY = "ecpay"


@dataclass(frozen=True)
class TradeStatus:
    merchant_trade_no: str
    # TradeStatus "1". Any other is not paid: 0 not yet, 10200095 never established,
    # 10200047 no such trade.
    paid: bool
    trade_no: str
    trade_amt: Decimal
    payment_type: str
    payment_date: str
    # Every field of the answer, CheckMacValue included.
    fields: dict[str, str]


class QueryRateLimited(TransientGatewayError):
    """ECPay answered HTTP 403 because we asked too often: ask nothing for 30 minutes."""

    code = "rate_limited"
    back_off = timedelta(minutes=30)


@measured(GATEWAY, "query_trade")
def query_trade(
    merchant_trade_no: str, config: EcpayConfig, *, timeout: float = 10.0
) -> TradeStatus:
    """What ECPay knows of one trade, from an answer whose CheckMacValue verified.

    Raises QueryRateLimited (HTTP 403), TransientGatewayError (no connection, a timeout, 5xx),
    BadSignatureError (the answer's CheckMacValue does not verify) or PermanentGatewayError
    (any other refusal, or an answer that is not a trade's). Asking changes nothing at ECPay,
    so every failure is safe to retry.
    """
    params = {
        "MerchantID": config.merchant_id,
        "MerchantTradeNo": merchant_trade_no,
        # Valid for 3 minutes at ECPay: a queued request must be signed again, not replayed.
        "TimeStamp": str(int(time.time())),
    }
    params["CheckMacValue"] = check_mac_value(
        params, hash_key=config.hash_key, hash_iv=config.hash_iv
    )
    try:
        response = requests.post(
            config.query_url,
            data=params,
            # One request per call: a kept-alive socket would stay open until the garbage
            # collector finds the pool, which an error's traceback can keep alive.
            headers={"Connection": "close"},
            timeout=timeout,
            allow_redirects=False,
        )
    except (requests.ConnectionError, requests.Timeout) as error:
        raise TransientGatewayError("Could not ask ECPay about the trade.") from error
    except requests.RequestException as error:
        # What is left fails before sending: a malformed URL, ours to fix.
        raise PermanentGatewayError("The trade query could not be sent.") from error

    status = response.status_code
    if status == 403:
        raise QueryRateLimited("ECPay refused the trade query (HTTP 403): too many queries.")
    if status >= 500:
        raise TransientGatewayError(f"ECPay answered the trade query with HTTP {status}.")
    if status != 200:
        raise PermanentGatewayError(
            f"ECPay refused the trade query: HTTP {status} {response.text[:200]!r}."
        )
    if "=" not in response.text:
        # ECPay reports a request it refuses (a wrong key, an old TimeStamp) in plain words.
        raise PermanentGatewayError(f"ECPay refused the trade query: {response.text[:200]!r}.")
    fields = dict(parse_qsl(response.text, keep_blank_values=True))
    if not check_mac_matches(fields, hash_key=config.hash_key, hash_iv=config.hash_iv):
        raise BadSignatureError(
            "The trade query's answer has a CheckMacValue that does not verify."
        )
    if fields.get("MerchantTradeNo") != merchant_trade_no:
        raise PermanentGatewayError("ECPay answered the trade query about another trade.")
    amount = fields.get("TradeAmt", "")
    if not _WHOLE_NUMBER.fullmatch(amount):
        raise PermanentGatewayError("The trade query's answer has no valid TradeAmt.")
    return TradeStatus(
        merchant_trade_no=merchant_trade_no,
        paid=fields.get("TradeStatus") == "1",
        trade_no=fields.get("TradeNo", ""),
        trade_amt=Decimal(amount),
        payment_type=fields.get("PaymentType", ""),
        payment_date=fields.get("PaymentDate", ""),
        fields=fields,
    )


REFUND = "R"


@measured(GATEWAY, "refund")
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
