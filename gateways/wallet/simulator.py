"""Development only: play the wallet or the bank app, and send this service a signed callback
(`manage.py send_wallet_callback`), as the providers' servers would."""

import json
import time
from decimal import Decimal

import requests

from gateways.wallet import callback_secret, sign


def callback_send(
    *,
    url: str,
    gateway: str,
    order_number: str,
    success: bool,
    payment_id: str,
    amount: Decimal,
) -> requests.Response:
    """POST a callback signed with `gateway`'s secret to `url`, and return the answer."""
    body = json.dumps(
        {
            "orderId": order_number,
            "success": success,
            "paymentId": payment_id,
            # As text: exact (the callback takes a string of digits as well as a number).
            "amount": str(amount),
        }
    ).encode()
    timestamp = str(int(time.time()))
    return requests.post(
        url,
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Timestamp": timestamp,
            "X-Signature": sign(secret=callback_secret(gateway), timestamp=timestamp, body=body),
        },
        timeout=30,
    )
