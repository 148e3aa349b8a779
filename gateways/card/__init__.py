"""The card provider: tokenize cards, charge tokens, find a charge by its key, refund.

`get_card_gateway()` is the way in; `client.py` holds the protocol (requests and the typed
answers), `validation.py` the card number's checksum, and `simulator/` a stand-in provider for
development and tests. Nothing is signed: our API key goes over TLS.
"""

from django.conf import settings

from gateways.card.client import CardProviderClient


def get_card_gateway() -> CardProviderClient:
    """The client as settings configure it now: read at each call, so tests can override them."""
    return CardProviderClient(
        base_url=settings.CARD_PROVIDER_URL,
        api_key=settings.CARD_PROVIDER_API_KEY,
        connect_timeout=settings.CARD_PROVIDER_CONNECT_TIMEOUT_SECONDS,
        read_timeout=settings.CARD_PROVIDER_TIMEOUT_SECONDS,
    )
