"""Wallet and bank-app callbacks (seed 003's WalletCallback and BankAppCallback): a signed JSON
body saying whether an order was paid, by which of the provider's payments, and how much.

Both providers speak the same protocol with their own secret; `callback_secret(gateway)` picks it.
`messages.py` parses a callback, `signature.py` signs and verifies it, and `simulator.py` sends
one as a provider would (development only).
"""

from django.conf import settings

from gateways.models import Gateway
from gateways.wallet.messages import MalformedCallback, WalletCallback, parse_callback
from gateways.wallet.signature import sign, verify_signature

__all__ = [
    "MalformedCallback",
    "WalletCallback",
    "callback_secret",
    "parse_callback",
    "sign",
    "verify_signature",
]


def callback_secret(gateway: str) -> str:
    """The shared secret `gateway` signs its callbacks with, read at each call (tests override)."""
    secrets = {
        Gateway.WALLET: settings.WALLET_CALLBACK_SECRET,
        Gateway.BANK_APP: settings.BANK_APP_CALLBACK_SECRET,
    }
    return str(secrets[Gateway(gateway)])
