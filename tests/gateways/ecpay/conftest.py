import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest
from django.urls import reverse

from gateways.ecpay import (
    CheckoutRequest,
    EcpayConfig,
    EcpayMethod,
    build_checkout_form,
    ecpay_config,
    new_merchant_trade_no,
)
from gateways.ecpay.simulator.delivery import THREAD_NAME
from gateways.ecpay.simulator.models import SimulatedEcpayTrade

# ECPay's public stage merchant (docs/ecpay.md), which the published examples are signed with.
STAGE_MERCHANT_ID = "3002607"
STAGE_HASH_KEY = "pwFHCqoQZGmho4w6"
STAGE_HASH_IV = "EkRm7iFT261dpevs"
SHOP = "https://shop.example"


@pytest.fixture
def config(settings) -> EcpayConfig:
    """The stage merchant, whom the simulator plays ECPay for."""
    settings.ECPAY_MERCHANT_ID = STAGE_MERCHANT_ID
    settings.ECPAY_HASH_KEY = STAGE_HASH_KEY
    settings.ECPAY_HASH_IV = STAGE_HASH_IV
    return ecpay_config()


def checkout_request(method: EcpayMethod = EcpayMethod.CREDIT, **changes) -> CheckoutRequest:
    request = CheckoutRequest(
        merchant_trade_no=new_merchant_trade_no(),
        total_amount=Decimal("960"),
        item_names=["Oolong tea", "Pineapple cake"],
        trade_desc="Order 1001",
        method=method,
        return_url=f"{SHOP}/callbacks/ecpay/notify/",
        order_result_url=f"{SHOP}/checkout/result/",
        client_back_url=f"{SHOP}/orders/1001/",
        payment_info_url=f"{SHOP}/callbacks/ecpay/payment-info/",
        custom_field1="pay_123",
        trade_date=datetime(2025, 3, 4, 8, 30, tzinfo=UTC),
    )
    return replace(request, **changes)


@dataclass(frozen=True)
class Post:
    path: str
    fields: dict[str, str]
    # time.monotonic() when it arrived
    at: float


class Receiver:
    """A merchant's server for the simulator to notify: records every form posted to it and
    answers each with the next of `answers`, then with 200 `1|OK`."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.answers: list[tuple[int, str]] = []
        # Cleared: requests wait for it before they are answered.
        self.open = threading.Event()
        self.open.set()
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
                with receiver._arrived:
                    receiver.posts.append(Post(self.path, fields, time.monotonic()))
                    status, text = receiver.answers.pop(0) if receiver.answers else (200, "1|OK")
                    receiver._arrived.notify_all()
                receiver.open.wait(timeout=10)
                answer = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_port}{path}"

    def wait_for(self, count: int, timeout: float = 10) -> list[Post]:
        with self._arrived:
            arrived = self._arrived.wait_for(lambda: len(self.posts) >= count, timeout=timeout)
        assert arrived, f"{count} posts expected, {len(self.posts)} arrived"
        return self.posts

    def stop(self) -> None:
        self.open.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.stop()


def wait_for_deliveries(timeout: float = 10) -> None:
    """Until the simulator's delivery threads are done: they write to the database and read
    settings, so none may outlive the test that started it."""
    for thread in threading.enumerate():
        if thread.name.startswith(THREAD_NAME):
            thread.join(timeout)
            assert not thread.is_alive(), f"{thread.name} still delivering"


@pytest.fixture
def simulator(config, settings) -> Iterator[None]:
    """The simulator as ECPay for the stage merchant, redelivering fast, never leaving a
    delivery behind when the test ends."""
    settings.ECPAY_SIMULATOR_REDELIVERY_SECONDS = 0.05
    settings.ECPAY_SIMULATOR_REDELIVERIES = 2
    yield
    wait_for_deliveries()


def post_checkout(client, request: CheckoutRequest, config: EcpayConfig):
    """Post the checkout form as the customer's browser does."""
    form = build_checkout_form(request, config)
    return client.post(reverse("ecpay_simulator:checkout"), form.fields)


def press(client, button: str, trade: SimulatedEcpayTrade):
    """Press a button on the simulator's page for the trade."""
    return client.post(reverse(f"ecpay_simulator:{button}", args=[trade.trade_no]))


def trade_of(request: CheckoutRequest) -> SimulatedEcpayTrade:
    return SimulatedEcpayTrade.objects.get(merchant_trade_no=request.merchant_trade_no)
