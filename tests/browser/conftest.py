"""Fixtures of the browser tests."""

import pytest


@pytest.fixture
def ecpay_on_live_server(live_server, settings) -> str:
    """ECPay is the simulator on the live server, and it reaches us there too."""
    settings.SITE_URL = live_server.url
    settings.ECPAY_BASE_URL = f"{live_server.url}/simulators/ecpay"
    return str(live_server.url)
