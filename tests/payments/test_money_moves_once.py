"""Money moves once, tried the way an impatient customer, a double-clicking browser and a busy
gateway would: many requests at once against a live server, each on its own connection to
MariaDB, for one order. The pipeline runs in each request's thread (eager tasks), so charges,
debits and callbacks really overlap.
"""

import json
import time
from collections.abc import Callable
from decimal import Decimal
from urllib.parse import urlencode, urlparse

import pytest
import requests
from django.conf import settings
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from accounts.models import User
from gateways.models import Gateway
from gateways.wallet import sign
from orders.models import Order, OrderStatus, PaymentHeader
from payments.models import (
    GatewayOperation,
    LedgerEntry,
    LedgerEntryType,
    OperationKind,
    Payment,
    PaymentStatus,
)
from payments.selectors import ledger_mismatches
from tests.concurrency import run_at_once
from tests.factories import (
    OrderFactory,
    UserFactory,
    card_payment_body,
    fund,
    order_payment_body,
)
from tests.payments.test_ecpay_notifications import paid_notification, signed

pytestmark = [pytest.mark.mysql, pytest.mark.django_db(transaction=True)]

ATTEMPTS = 20
TIMEOUT = 60


@pytest.fixture
def customer(db) -> User:
    return UserFactory.create()


@pytest.fixture
def order(customer: User) -> Order:
    return OrderFactory.create(user=customer)


@pytest.fixture
def server(live_server, settings, card_provider) -> str:
    """The live server, which ECPay's redirect pages name, and the card simulator it charges."""
    settings.SITE_URL = live_server.url
    return str(live_server.url)


@pytest.fixture
def post_payment(server: str, customer: User) -> Callable[[dict], requests.Response]:
    token, _ = Token.objects.get_or_create(user=customer)

    def post(body: dict) -> requests.Response:
        return requests.post(
            f"{server}/api/v1/payments/",
            json=body,
            headers={"Authorization": f"Token {token.key}"},
            timeout=TIMEOUT,
        )

    return post


def on_ecpay(order: Order, method: str = "card") -> dict:
    return order_payment_body(order, gateway="ecpay", method=method)


def pay_on_ecpay(server: str, created: requests.Response) -> str:
    """What the customer's browser and ECPay do with an ECPay payment the API started: open
    the redirect page and, if it hands out the form, pay; ECPay then notifies us. Returns what
    happened."""
    if created.status_code != 202:
        return f"create {created.status_code}"
    page = requests.get(
        server + urlparse(created.json()["next_action"]["url"]).path, timeout=TIMEOUT
    )
    if page.status_code != 200:
        return f"redirect {page.status_code}"
    payment = Payment.objects.get(public_id=created.json()["id"])
    answer = requests.post(
        f"{server}/callbacks/ecpay/notify/",
        data=urlencode(signed(paid_notification(payment))),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=TIMEOUT,
    )
    assert answer.text == "1|OK"
    return "paid at ECPay"


def wallet_callback(
    server: str, order: Order, payment_id: str, gateway: str = "wallet"
) -> requests.Response:
    body = json.dumps(
        {"orderId": order.number, "success": True, "paymentId": payment_id, "amount": "960.00"}
    ).encode()
    timestamp = str(int(time.time()))
    secret = {
        "wallet": settings.WALLET_CALLBACK_SECRET,
        "bank-app": settings.BANK_APP_CALLBACK_SECRET,
    }[gateway]
    return requests.post(
        f"{server}/callbacks/{gateway}/",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Timestamp": timestamp,
            "X-Signature": sign(secret=secret, body=body, timestamp=timestamp),
        },
        timeout=TIMEOUT,
    )


def charges_sent(order: Order) -> int:
    return GatewayOperation.objects.filter(payment__order=order, kind=OperationKind.CHARGE).count()


def wait_until_settled(order: Order) -> None:
    """The ECPay drains and wallet settles run after their requests answered: wait for them."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if (
            not Payment.objects.filter(order=order, status__in=[PaymentStatus.PROCESSING]).exists()
            and not order.payments.filter(callbacks__outcome="received").exists()
        ):
            return
        time.sleep(0.1)
    raise AssertionError("payments still processing")


def assert_paid_once(order: Order) -> Payment:
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    paid = Payment.objects.filter(order=order, status=PaymentStatus.COMPLETED)
    assert paid.count() == 1
    assert PaymentHeader.objects.get(order=order).payment_id == paid.get().pk
    assert ledger_mismatches() == []
    return paid.get()


def refused_for_the_order(answer: requests.Response) -> bool:
    """Refused because another payment holds the order (409), or, when that one has paid it
    before this request was read, because the order no longer waits for payment (400)."""
    body = answer.json()
    if answer.status_code == 409:
        return body["code"] in {"order_payment_in_progress", "order_already_paid"}
    return answer.status_code == 400 and "order" in body["fields"]


def test_concurrent_card_payments_of_one_order_charge_the_card_once(order, post_payment):
    answers = run_at_once(lambda: post_payment(card_payment_body(order)), threads=ATTEMPTS)

    accepted = [answer for answer in answers if answer.status_code == 202]
    assert len(accepted) == 1
    assert all(refused_for_the_order(answer) for answer in answers if answer not in accepted)
    assert charges_sent(order) == 1
    assert_paid_once(order)


def test_concurrent_balance_payments_of_one_order_debit_the_balance_once(
    customer, order, post_payment
):
    fund(customer, "9600")

    answers = run_at_once(
        lambda: post_payment(order_payment_body(order, gateway="balance")), threads=10
    )

    accepted = [answer for answer in answers if answer.status_code == 202]
    assert len(accepted) == 1
    assert all(refused_for_the_order(answer) for answer in answers if answer not in accepted)
    customer.refresh_from_db()
    assert customer.balance == Decimal("8640")
    debits = LedgerEntry.objects.filter(user=customer, entry_type=LedgerEntryType.ORDER_PAYMENT)
    assert debits.count() == 1
    assert_paid_once(order)


@pytest.mark.parametrize("method", ["card", "atm", "cvs", "barcode"])
def test_concurrent_ecpay_payments_of_one_order_reach_ecpay_once(
    server, order, post_payment, method
):
    outcomes = run_at_once(
        lambda: pay_on_ecpay(server, post_payment(on_ecpay(order, method))), threads=10
    )

    assert outcomes.count("paid at ECPay") == 1, outcomes
    wait_until_settled(order)
    assert_paid_once(order)
    sent = Payment.objects.filter(order=order, sent_to_gateway_at__isnull=False)
    assert sent.count() == 1
    # Every other attempt was let go of before ECPay ever saw it.
    others = Payment.objects.filter(order=order).exclude(pk=sent.get().pk)
    assert set(others.values_list("status", flat=True)) <= {PaymentStatus.CANCELLED}


@pytest.mark.parametrize("gateway", ["wallet", "bank-app"])
def test_concurrent_wallet_payments_pay_the_order_once_and_the_rest_is_credited(
    server, customer, order, gateway
):
    answers = run_at_once(
        lambda: wallet_callback(server, order, f"W-{time.monotonic_ns()}", gateway), threads=10
    )

    assert {answer.status_code for answer in answers} == {200}
    wait_until_settled(order)
    assert_paid_once(order)
    credited = Payment.objects.filter(order=order, status=PaymentStatus.CREDITED)
    assert credited.count() == 9
    assert set(credited.values_list("needs_review", flat=True)) == {True}
    customer.refresh_from_db()
    assert customer.balance == Decimal("960") * 9


def test_every_way_to_pay_at_once_moves_money_for_the_order_once(
    server, customer, order, post_payment
):
    fund(customer, "960")
    attempts: list[Callable[[], object]] = [
        lambda: post_payment(card_payment_body(order)).status_code,
        lambda: post_payment(order_payment_body(order, gateway="balance")).status_code,
        lambda: pay_on_ecpay(server, post_payment(on_ecpay(order))),
    ] * 3
    pending = list(attempts)

    run_at_once(lambda: pending.pop()(), threads=len(attempts))

    wait_until_settled(order)
    paid = assert_paid_once(order)
    customer.refresh_from_db()
    debited = LedgerEntry.objects.filter(
        user=customer, entry_type=LedgerEntryType.ORDER_PAYMENT
    ).count()
    assert charges_sent(order) == (1 if paid.gateway == Gateway.CARD else 0)
    assert debited == (1 if paid.gateway == Gateway.BALANCE else 0)
    assert customer.balance == Decimal("960") * (1 - debited)
    assert not Payment.objects.filter(order=order, status=PaymentStatus.CREDITED).exists()


def test_a_late_wallet_payment_of_an_order_paid_by_card_ends_in_the_balance(
    server, customer, order, post_payment, capsys
):
    assert post_payment(card_payment_body(order)).status_code == 202

    answer = wallet_callback(server, order, "W-late")

    assert answer.json() == {"status": "skipped"}
    wait_until_settled(order)
    assert_paid_once(order)
    late = Payment.objects.get(gateway_reference="W-late")
    assert (late.status, late.needs_review) == (PaymentStatus.CREDITED, True)
    customer.refresh_from_db()
    assert customer.balance == Decimal("960")
    call_command("check_ledger")
    assert "Every balance matches its ledger" in capsys.readouterr().out
