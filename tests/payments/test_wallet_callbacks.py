"""Wallet and bank-app callbacks (seed 003): stored, verified, applied once, re-priced."""

import hashlib
import hmac
import json
import time
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from gateways.models import CallbackOutcome, Gateway, GatewayCallback
from gateways.wallet import sign
from notifications.models import Notification
from orders.models import DiscountCode, Order, OrderStatus, PaymentHeader
from orders.pricing import ItemLine
from orders.services import order_create
from payments.models import Payment, PaymentEvent, PaymentStatus
from payments.selectors import ledger_mismatches
from tests.concurrency import run_at_once
from tests.factories import OrderFactory

WALLET = "/callbacks/wallet/"
BANK_APP = "/callbacks/bank-app/"
COPIES = 20


def callback_body(order: Order, **changes: object) -> bytes:
    fields: dict[str, object] = {
        "orderId": order.number,
        "success": True,
        "paymentId": "pay_wallet_abc123",
        "amount": "960.00",
    }
    fields.update(changes)
    return json.dumps(fields).encode()


def headers_for(body: bytes, *, secret: str | None = None, age: int = 0) -> dict[str, str]:
    timestamp = str(int(time.time()) - age)
    signature = sign(
        secret=secret or settings.WALLET_CALLBACK_SECRET, timestamp=timestamp, body=body
    )
    return {"X-Signature": signature, "X-Timestamp": timestamp}


def post(client: Client, body: bytes, *, url: str = WALLET, **signing: Any):
    return client.post(
        url, body, content_type="application/json", headers=headers_for(body, **signing)
    )


@pytest.fixture
def order(db) -> Order:
    return OrderFactory.create()


@pytest.fixture
def applied(django_capture_on_commit_callbacks):
    """Run what a callback queues (settle → notify) as a worker would, right away."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def only_callback() -> GatewayCallback:
    return GatewayCallback.objects.get()


@pytest.mark.parametrize(
    ("order_field", "payment_field"), [("orderId", "paymentId"), ("order_id", "payment_id")]
)
def test_a_paid_callback_completes_the_payment_and_marks_the_order_paid(
    client, order, applied, mailoutbox, order_field, payment_field
):
    body = json.dumps(
        {order_field: order.number, "success": True, payment_field: "W-1", "amount": 960.0}
    ).encode()

    with applied():
        response = post(client, body)

    assert response.status_code == 200
    assert response.json() == {"status": "accepted"}
    payment = Payment.objects.get()
    assert (payment.status, payment.gateway, payment.method) == (
        PaymentStatus.COMPLETED,
        Gateway.WALLET,
        "wallet",
    )
    header = PaymentHeader.objects.get(order=order)
    assert (header.method, header.gateway_payment_id, header.total_paid) == (
        "wallet",
        "W-1",
        Decimal("960.00"),
    )
    assert header.paid_at is not None
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    log = payment.events.get(type="process_paid_order")
    assert (log.is_error, log.data["total"]) == (False, "960.00")
    assert len(mailoutbox) == 1
    callback = only_callback()
    assert (callback.outcome, callback.signature_valid, callback.payment_id) == (
        CallbackOutcome.ACCEPTED,
        True,
        payment.pk,
    )


def test_the_bank_app_signs_with_its_own_secret(client, order, applied):
    body = callback_body(order)

    with applied():
        wrong = post(client, body, url=BANK_APP)
        right = post(client, body, url=BANK_APP, secret=settings.BANK_APP_CALLBACK_SECRET)

    assert wrong.status_code == 401
    assert right.json() == {"status": "accepted"}
    header = PaymentHeader.objects.get(order=order)
    assert (header.gateway, header.method) == (Gateway.BANK_APP, "bank_app")


def test_a_failure_callback_fails_the_payment_and_tells_the_customer(
    client, order, applied, mailoutbox
):
    with applied():
        response = post(client, callback_body(order, success=False))

    assert response.json() == {"status": "accepted"}
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_reason == "wallet reported failure"
    assert payment.needs_review is False
    assert payment.events.get(type="process_paid_order").is_error is True
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert len(mailoutbox) == 1


def test_an_underpayment_pays_nothing_and_is_credited_to_the_balance_flagged_with_the_difference(
    client, order, applied, mailoutbox
):
    with applied():
        response = post(client, callback_body(order, amount="900.50"))

    assert response.json() == {"status": "accepted"}
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.CREDITED
    assert payment.needs_review is True
    flagged = payment.events.get(type="flagged_for_review")
    assert (flagged.data["reason"], flagged.data["difference"]) == ("underpaid", "-59.50")
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    header = PaymentHeader.objects.get(order=order)  # seed 003's, with isPaid false
    assert (header.is_paid, header.total_paid, header.payment_id) == (False, 0, payment.pk)
    order.user.refresh_from_db()
    assert order.user.balance == Decimal("900.50")
    assert ledger_mismatches() == []
    assert len(mailoutbox) == 1
    assert "credited to your balance" in mailoutbox[0].subject


def test_an_overpayment_pays_the_order_and_the_rest_is_credited_flagged(
    client, order, applied, mailoutbox
):
    with applied():
        response = post(client, callback_body(order, amount="1000"))

    assert response.json() == {"status": "accepted"}
    payment = Payment.objects.get()
    assert (payment.status, payment.needs_review) == (PaymentStatus.COMPLETED, True)
    assert payment.events.get(type="flagged_for_review").data == {
        "reason": "overpaid",
        "paid": "1000.00",
        "due": "960.00",
    }
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert PaymentHeader.objects.get(order=order).total_paid == Decimal("960.00")
    order.user.refresh_from_db()
    assert order.user.balance == Decimal("40.00")
    assert ledger_mismatches() == []


def test_an_amount_beyond_what_may_be_paid_is_rejected_and_changes_nothing(client, order):
    response = post(client, callback_body(order, amount="999999999999.99"))

    assert response.status_code == 400
    assert response.json()["code"] == "amount_out_of_range"
    assert not Payment.objects.exists()
    callback = GatewayCallback.objects.get()
    assert callback.outcome == CallbackOutcome.REJECTED
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


@pytest.mark.django_db
def test_re_pricing_honours_the_orders_discount_code(client, applied, customer):
    DiscountCode.objects.create(code="TEA10", percent_off=Decimal("10"))
    tea = ItemLine(sku="TEA", name="Tea", unit_price=Decimal("450"), quantity=2)
    discounted = order_create(user=customer, items=[tea], currency="TWD", discount_code="TEA10")
    assert discounted.total == Decimal("870")

    with applied():
        post(client, callback_body(discounted, amount="870"))

    discounted.refresh_from_db()
    assert discounted.status == OrderStatus.PAID
    event = Payment.objects.get().events.get(type="process_paid_order")
    assert (event.data["discount"], event.data["total"]) == ("90.00", "870.00")


def test_money_for_an_order_already_paid_is_skipped_for_the_order_and_credited_to_the_balance(
    client, order, applied, mailoutbox
):
    with applied():
        post(client, callback_body(order, paymentId="W-1"))
    with applied():
        response = post(client, callback_body(order, paymentId="W-2"))

    assert response.json() == {"status": "skipped"}
    assert PaymentHeader.objects.count() == 1
    first, second = Payment.objects.order_by("pk")
    assert first.status == PaymentStatus.COMPLETED
    assert (second.gateway_reference, second.status) == ("W-2", PaymentStatus.CREDITED)
    assert second.needs_review is True
    order.user.refresh_from_db()
    assert order.user.balance == second.amount
    assert ledger_mismatches() == []
    assert [message.subject.split(":")[0] for message in mailoutbox] == [
        "Payment received",
        "Payment credited to your balance",
    ]
    callback = GatewayCallback.objects.order_by("pk").last()
    assert callback is not None
    assert (callback.outcome, callback.payment_id) == (CallbackOutcome.ACCEPTED, second.pk)


def test_a_replayed_callback_is_a_duplicate_and_changes_nothing(client, order, applied, mailoutbox):
    body = callback_body(order)
    headers = headers_for(body)
    with applied():
        client.post(WALLET, body, content_type="application/json", headers=headers)
    events = PaymentEvent.objects.count()

    with applied():
        replay = client.post(WALLET, body, content_type="application/json", headers=headers)

    assert replay.json() == {"status": "duplicate"}
    assert Payment.objects.count() == 1
    assert PaymentEvent.objects.count() == events
    assert Notification.objects.count() == 1
    assert len(mailoutbox) == 1
    assert GatewayCallback.objects.order_by("pk").last().outcome == CallbackOutcome.DUPLICATE


@pytest.mark.parametrize(
    "signing",
    [{"secret": "forged"}, {"age": 301}, {"age": -301}],
    ids=["forged", "stale", "future"],
)
def test_a_bad_signature_or_stale_timestamp_is_refused_and_recorded(
    client, order, applied, signing
):
    with applied():
        response = post(client, callback_body(order), **signing)

    assert response.status_code == 401
    assert response.json()["code"] == "bad_signature"
    callback = only_callback()
    assert (callback.outcome, callback.signature_valid) == (CallbackOutcome.REJECTED, False)
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    ("url", "secret_setting"),
    [(WALLET, "WALLET_CALLBACK_SECRET"), (BANK_APP, "BANK_APP_CALLBACK_SECRET")],
)
def test_with_no_secret_set_a_callback_signed_with_an_empty_one_is_refused(
    client, order, applied, settings, url, secret_setting
):
    setattr(settings, secret_setting, "")
    body = callback_body(order)
    timestamp = str(int(time.time()))
    # What anybody can compute: an HMAC whose key is empty.
    forged = hmac.new(b"", f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()

    with applied():
        response = client.post(
            url,
            body,
            content_type="application/json",
            headers={"X-Signature": forged, "X-Timestamp": timestamp},
        )

    assert response.status_code == 401
    assert response.json()["code"] == "bad_signature"
    callback = only_callback()
    assert (callback.outcome, callback.signature_valid) == (CallbackOutcome.REJECTED, False)
    assert not Payment.objects.exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_a_signed_callback_with_a_timestamp_of_thousands_of_digits_is_refused_and_recorded(
    client, order
):
    body = callback_body(order)
    # Past Python's 4300-digit limit on int() of text: a crash (an HTML 500) if ever parsed.
    timestamp = "9" * 5000
    signature = sign(secret=settings.WALLET_CALLBACK_SECRET, timestamp=timestamp, body=body)

    response = client.post(
        WALLET,
        body,
        content_type="application/json",
        headers={"X-Signature": signature, "X-Timestamp": timestamp},
    )

    assert response.status_code == 401
    assert response.json()["code"] == "bad_signature"
    callback = only_callback()
    assert (callback.outcome, callback.signature_valid) == (CallbackOutcome.REJECTED, False)
    assert not Payment.objects.exists()


def test_a_callback_without_signature_headers_is_refused(client, order):
    response = client.post(WALLET, callback_body(order), content_type="application/json")

    assert response.status_code == 401
    assert only_callback().outcome == CallbackOutcome.REJECTED


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b'{"orderId": "1", "success": true, "paymentId": "p", "amount": -960}', "amount"),
        (b'{"orderId": "1", "success": true, "paymentId": "p", "amount": "lots"}', "amount"),
    ],
)
def test_a_malformed_callback_is_refused_with_the_field_and_recorded(
    client, order, applied, body, field
):
    with applied():
        response = post(client, body)

    assert response.status_code == 400
    answer = response.json()
    assert answer["code"] == "invalid"
    assert list(answer["fields"]) == [field]
    callback = only_callback()
    assert (callback.outcome, callback.signature_valid) == (CallbackOutcome.REJECTED, True)
    assert not Payment.objects.exists()


def test_a_callback_for_an_unknown_order_is_refused_and_recorded(client, order, applied):
    body = json.dumps(
        {"orderId": "999999999999", "success": True, "paymentId": "W-1", "amount": 960}
    ).encode()

    with applied():
        response = post(client, body)

    assert response.status_code == 404
    assert response.json()["code"] == "unknown_order"
    assert only_callback().outcome == CallbackOutcome.REJECTED
    assert not Payment.objects.exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_copies_make_one_payment_header_and_one_notification(mailoutbox):
    order = OrderFactory.create()
    body = callback_body(order)
    headers = headers_for(body)

    answers = run_at_once(
        lambda: (
            Client()
            .post(WALLET, body, content_type="application/json", headers=headers)
            .json()["status"]
        ),
        threads=COPIES,
    )

    assert answers.count("accepted") == 1
    assert set(answers) <= {"accepted", "duplicate"}
    assert Payment.objects.count() == 1
    assert PaymentHeader.objects.filter(order=order).count() == 1
    assert Payment.objects.get().status == PaymentStatus.COMPLETED
    assert Notification.objects.count() == 1
    assert len(mailoutbox) == 1
    outcomes = list(GatewayCallback.objects.values_list("outcome", flat=True))
    assert outcomes.count(CallbackOutcome.ACCEPTED) == 1
    assert outcomes.count(CallbackOutcome.DUPLICATE) == COPIES - 1
