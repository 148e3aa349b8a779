import socket

import pytest

from gateways.card import get_card_gateway
from gateways.card.client import CardProviderClient


@pytest.fixture
def card_gateway(live_server, settings) -> CardProviderClient:
    """The card client, talking real HTTP to the simulator that the live server serves."""
    settings.CARD_PROVIDER_URL = f"{live_server.url}/simulators/card"
    settings.CARD_SIMULATOR_TRANSIENT_FAILURE_RATE = 0.0
    return get_card_gateway()


@pytest.fixture
def unreachable_url() -> str:
    """A local URL nobody listens on: its port was free a moment ago and nothing took it since."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
