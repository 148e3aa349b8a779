"""The simulator's buttons: each sends the notifications ECPay would, signed, redelivered until
acknowledged, every attempt recorded."""

import re
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from gateways.base import BadSignatureError
from gateways.ecpay import EcpayMethod, check_mac_matches, parse_notification
from gateways.ecpay.simulator.models import (
    SimulatedEcpayDelivery,
    SimulatedEcpayTradeStatus,
    set_faults,
)
from tests.gateways.ecpay.conftest import (
    SHOP,
    checkout_request,
    post_checkout,
    press,
    trade_of,
    wait_for_deliveries,
)

# Delivery threads use connections of their own: what the test wrote must be committed.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("simulator")]

RESULT_FIELDS = {
    "MerchantID",
    "MerchantTradeNo",
    "StoreID",
    "RtnCode",
    "RtnMsg",
    "TradeNo",
    "TradeAmt",
    "PaymentDate",
    "PaymentType",
    "PaymentTypeChargeFee",
    "TradeDate",
    "SimulatePaid",
    "CustomField1",
    "CustomField2",
    "CustomField3",
    "CustomField4",
    "CheckMacValue",
}
TAIPEI = ZoneInfo("Asia/Taipei")
ECPAY_TIME = re.compile(r"[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")


@pytest.fixture
def start(client, config, receiver):
    """Check out with the notifications going to the receiver; returns the trade."""

    def start(method=EcpayMethod.CREDIT):
        request = checkout_request(
            method,
            return_url=receiver.url("/notify"),
            payment_info_url=receiver.url("/payment-info"),
        )
        assert post_checkout(client, request, config).status_code == 200
        return trade_of(request)

    return start


def verifies(fields, config) -> bool:
    return check_mac_matches(fields, hash_key=config.hash_key, hash_iv=config.hash_iv)


def test_paying_notifies_the_return_url_with_a_signed_paid_notification(
    client, config, receiver, start
):
    trade = start()

    press(client, "pay", trade)

    [post] = receiver.wait_for(1)
    assert post.path == "/notify"
    assert post.fields.keys() == RESULT_FIELDS
    assert verifies(post.fields, config)
    assert post.fields["RtnCode"] == "1"
    assert post.fields["MerchantTradeNo"] == trade.merchant_trade_no
    assert post.fields["TradeNo"] == trade.trade_no
    assert len(post.fields["TradeNo"]) == 20
    assert post.fields["TradeAmt"] == "960"
    assert post.fields["PaymentType"] == "Credit_CreditCard"
    assert ECPAY_TIME.fullmatch(post.fields["PaymentDate"])
    assert ECPAY_TIME.fullmatch(post.fields["TradeDate"])
    assert post.fields["SimulatePaid"] == "0"
    assert post.fields["CustomField1"] == "pay_123"
    notification = parse_notification(post.fields, config)
    assert notification.paid
    assert notification.trade_no == trade.trade_no


def test_paying_sends_the_browser_to_the_order_result_url_with_the_same_fields(
    client, receiver, start
):
    trade = start()

    response = press(client, "pay", trade)

    [post] = receiver.wait_for(1)
    page = response.content.decode()
    assert f'action="{SHOP}/checkout/result/"' in page
    # Posted at once by a static script (no inline script: the Content-Security-Policy).
    assert "js/submit-form.js" in page
    for name, value in post.fields.items():
        assert f'name="{name}" value="{value}"' in page


def test_a_failed_card_payment_notifies_its_failure(client, config, receiver, start):
    trade = start()

    response = press(client, "fail", trade)

    [post] = receiver.wait_for(1)
    assert post.fields["RtnCode"] == "10100058"
    assert verifies(post.fields, config)
    assert not parse_notification(post.fields, config).paid
    assert f'action="{SHOP}/checkout/result/"' in response.content.decode()
    trade.refresh_from_db()
    assert trade.status == SimulatedEcpayTradeStatus.FAILED


def test_a_trade_is_paid_only_once(client, receiver, start):
    trade = start()
    press(client, "pay", trade)

    again = press(client, "fail", trade)

    assert again.status_code == 400
    wait_for_deliveries()
    assert len(receiver.posts) == 1
    trade.refresh_from_db()
    assert trade.status == SimulatedEcpayTradeStatus.PAID


def test_the_page_answers_before_the_notification_is_acknowledged(client, receiver, start):
    trade = start()
    receiver.open.clear()

    response = press(client, "pay", trade)

    assert response.status_code == 200
    receiver.wait_for(1)
    assert not SimulatedEcpayDelivery.objects.exists()
    receiver.open.set()
    wait_for_deliveries()
    assert SimulatedEcpayDelivery.objects.get().answer == "1|OK"


def test_a_notification_is_redelivered_until_answered_exactly_1_ok(
    client, receiver, start, settings
):
    settings.ECPAY_SIMULATOR_REDELIVERIES = 4
    receiver.answers = [(200, "0|order not found"), (500, "1|OK"), (200, "1|OK ")]
    trade = start()

    press(client, "pay", trade)
    wait_for_deliveries()

    assert len(receiver.posts) == 4
    assert all(post.fields == receiver.posts[0].fields for post in receiver.posts)
    deliveries = SimulatedEcpayDelivery.objects.filter(trade=trade).order_by("attempt")
    assert [(d.attempt, d.status_code, d.answer) for d in deliveries] == [
        (1, 200, "0|order not found"),
        (2, 500, "1|OK"),
        (3, 200, "1|OK "),
        (4, 200, "1|OK"),
    ]


def test_redelivery_stops_after_the_last_redelivery(client, receiver, start, settings):
    settings.ECPAY_SIMULATOR_REDELIVERIES = 3
    receiver.answers = [(200, "0|busy")] * 10
    trade = start()

    press(client, "pay", trade)
    wait_for_deliveries()

    assert len(receiver.posts) == 4
    assert SimulatedEcpayDelivery.objects.filter(trade=trade).count() == 4


def test_redeliveries_wait_the_redelivery_interval(client, receiver, start, settings):
    settings.ECPAY_SIMULATOR_REDELIVERY_SECONDS = 0.3
    receiver.answers = [(200, "0|busy")]
    trade = start()

    press(client, "pay", trade)

    first, second = receiver.wait_for(2)
    assert second.at - first.at >= 0.3


def test_every_delivery_attempt_is_recorded(client, receiver, start):
    trade = start()

    press(client, "pay", trade)
    wait_for_deliveries()

    delivery = SimulatedEcpayDelivery.objects.get(trade=trade)
    assert delivery.url == receiver.url("/notify")
    assert delivery.fields == receiver.posts[0].fields
    assert (delivery.status_code, delivery.answer, delivery.attempt) == (200, "1|OK", 1)
    assert delivery.created_at is not None


def test_a_merchant_that_cannot_be_reached_is_recorded_without_an_answer(client, start, settings):
    settings.ECPAY_SIMULATOR_REDELIVERIES = 0
    trade = start()
    trade.return_url = "http://127.0.0.1:9/notify"
    trade.save()

    press(client, "pay", trade)
    wait_for_deliveries()

    delivery = SimulatedEcpayDelivery.objects.get(trade=trade)
    assert delivery.status_code is None
    assert "ConnectionError" in delivery.answer


def test_an_atm_account_is_notified_to_the_payment_info_url(client, config, receiver, start):
    trade = start(EcpayMethod.ATM)

    response = press(client, "issue-code", trade)

    [post] = receiver.wait_for(1)
    assert post.path == "/payment-info"
    assert verifies(post.fields, config)
    notification = parse_notification(post.fields, config)
    assert notification.rtn_code == 2
    assert notification.code_issued
    assert notification.bank_code == "812"
    assert re.fullmatch(r"[0-9]{16}", notification.v_account)
    expected = (timezone.localtime() + timedelta(days=3)).strftime("%Y/%m/%d")
    assert notification.expire_date == expected
    assert post.fields["PaymentType"] == "ATM_TAISHIN"
    page = client.get(response.url).content.decode()
    assert notification.v_account in page
    assert ">Pay at ATM now<" in page


def test_paying_at_the_atm_notifies_the_return_url_and_sends_the_browser_nowhere(
    client, config, receiver, start
):
    trade = start(EcpayMethod.ATM)
    press(client, "issue-code", trade)
    receiver.wait_for(1)
    # The code's delivery records itself after it is answered: on SQLite's shared in-memory
    # test database its write and the next press's would collide ("table is locked").
    wait_for_deliveries()

    response = press(client, "pay-code", trade)

    code, paid = receiver.wait_for(2)
    assert paid.path == "/notify"
    assert verifies(paid.fields, config)
    assert paid.fields["RtnCode"] == "1"
    assert paid.fields["PaymentType"] == "ATM_TAISHIN"
    assert paid.fields["TradeNo"] == code.fields["TradeNo"]
    page = client.get(response.url).content.decode()
    assert "document.forms" not in page
    assert f'href="{SHOP}/orders/1001/"' in page


def test_a_cvs_code_is_notified_to_the_payment_info_url(client, config, receiver, start):
    trade = start(EcpayMethod.CVS)

    press(client, "issue-code", trade)

    [post] = receiver.wait_for(1)
    notification = parse_notification(post.fields, config)
    assert notification.rtn_code == 10100073
    assert re.fullmatch(r"LLL[0-9]{11}", notification.payment_no)
    assert ECPAY_TIME.fullmatch(notification.expire_date)
    assert post.fields["PaymentType"] == "CVS_CVS"


def test_barcodes_are_notified_to_the_payment_info_url(client, config, receiver, start):
    trade = start(EcpayMethod.BARCODE)

    press(client, "issue-code", trade)

    [post] = receiver.wait_for(1)
    notification = parse_notification(post.fields, config)
    assert notification.rtn_code == 10100073
    assert all(notification.barcodes)
    assert post.fields["PaymentType"] == "BARCODE_BARCODE"


def test_paying_at_the_store_notifies_the_return_url(client, config, receiver, start):
    trade = start(EcpayMethod.CVS)
    press(client, "issue-code", trade)
    receiver.wait_for(1)
    # The code's delivery records itself after it is answered: on SQLite's shared in-memory
    # test database its write and the next press's would collide ("table is locked").
    wait_for_deliveries()

    press(client, "pay-code", trade)

    _, paid = receiver.wait_for(2)
    assert parse_notification(paid.fields, config).paid
    assert paid.fields["PaymentType"] == "CVS_CVS"


def test_a_card_trade_has_no_code_to_issue(client, start):
    assert press(client, "issue-code", start()).status_code == 400


def test_a_code_cannot_be_paid_before_it_is_issued(client, start):
    assert press(client, "pay-code", start(EcpayMethod.ATM)).status_code == 400


def test_an_atm_trade_cannot_be_paid_by_card(client, start):
    assert press(client, "pay", start(EcpayMethod.ATM)).status_code == 400


def test_the_page_of_a_paid_trade_links_back_to_the_shop(client, start, receiver):
    trade = start()
    press(client, "pay", trade)

    page = client.get(f"/simulators/ecpay/trades/{trade.trade_no}").content.decode()

    assert "Paid" in page
    assert f'href="{SHOP}/orders/1001/"' in page


# Faults ------------------------------------------------------------------------------------


def test_duplicate_deliveries_send_each_notification_again(client, receiver, start):
    set_faults(duplicate_deliveries=2)
    trade = start()

    press(client, "pay", trade)
    wait_for_deliveries()

    assert len(receiver.posts) == 3
    assert all(post.fields == receiver.posts[0].fields for post in receiver.posts)


def test_out_of_order_delivers_the_paid_notification_before_the_code(
    client, config, receiver, start
):
    set_faults(out_of_order=True)
    trade = start(EcpayMethod.ATM)
    press(client, "issue-code", trade)
    wait_for_deliveries()
    assert receiver.posts == []

    press(client, "pay-code", trade)

    paid, code = receiver.wait_for(2)
    assert (paid.path, paid.fields["RtnCode"]) == ("/notify", "1")
    assert (code.path, code.fields["RtnCode"]) == ("/payment-info", "2")
    assert verifies(code.fields, config)


def test_a_delay_makes_the_notification_late_but_not_the_page(client, receiver, start):
    set_faults(delay_seconds=0.5)
    trade = start()

    pressed = time.monotonic()
    press(client, "pay", trade)
    answered = time.monotonic()

    [post] = receiver.wait_for(1)
    assert answered - pressed < 0.5
    assert post.at - pressed >= 0.5


def test_dropped_notifications_leave_a_paid_trade_nobody_was_told_of(client, receiver, start):
    set_faults(drop_notifications=True)
    trade = start()

    response = press(client, "pay", trade)
    wait_for_deliveries()

    assert receiver.posts == []
    assert not SimulatedEcpayDelivery.objects.exists()
    trade.refresh_from_db()
    assert trade.status == SimulatedEcpayTradeStatus.PAID
    assert response.status_code == 302


def test_a_bad_mac_signs_notifications_with_a_wrong_key(client, config, receiver, start):
    set_faults(bad_mac=True)
    trade = start()

    press(client, "pay", trade)

    [post] = receiver.wait_for(1)
    assert not verifies(post.fields, config)
    with pytest.raises(BadSignatureError):
        parse_notification(post.fields, config)


def test_simulate_paid_marks_the_paid_notification(client, config, receiver, start):
    set_faults(simulate_paid=True)
    trade = start()

    press(client, "pay", trade)

    [post] = receiver.wait_for(1)
    assert post.fields["SimulatePaid"] == "1"
    assert verifies(post.fields, config)
    assert parse_notification(post.fields, config).simulate_paid


def test_a_barcode_paid_at_the_store_is_reported_only_when_its_result_is_due(
    client, config, receiver, start
):
    """ECPay reports a store barcode about two days after the customer paid: the simulator
    holds the result, and `send-result` sends it as those days later, dated when paid."""
    trade = start(EcpayMethod.BARCODE)
    press(client, "issue-code", trade)
    receiver.wait_for(1)
    wait_for_deliveries()

    press(client, "pay-code", trade)
    wait_for_deliveries()

    trade.refresh_from_db()
    assert len(receiver.posts) == 1  # the code only
    assert trade.status == SimulatedEcpayTradeStatus.PAID
    assert trade.result_due_at - trade.payment_date == timedelta(days=2)
    assert ">Send the result now<" in client.get(f"/simulators/ecpay/trades/{trade.trade_no}").text

    assert press(client, "send-result", trade).status_code == 302
    _, paid = receiver.wait_for(2)
    wait_for_deliveries()
    assert press(client, "send-result", trade).status_code == 400  # sent once
    notification = parse_notification(paid.fields, config)
    assert notification.paid
    assert notification.payment_date == trade.payment_date.astimezone(TAIPEI).strftime(
        "%Y/%m/%d %H:%M:%S"
    )
    assert len(receiver.posts) == 2


def test_with_no_delay_set_a_barcode_result_goes_at_once(client, config, receiver, start, settings):
    settings.ECPAY_SIMULATOR_BARCODE_RESULT_DELAY_SECONDS = 0
    trade = start(EcpayMethod.BARCODE)
    press(client, "issue-code", trade)
    receiver.wait_for(1)
    wait_for_deliveries()

    press(client, "pay-code", trade)

    _, paid = receiver.wait_for(2)
    assert parse_notification(paid.fields, config).paid
    trade.refresh_from_db()
    assert trade.result_due_at is None
