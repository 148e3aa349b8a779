"""QueryTradeInfo over real HTTP: the client against the simulator, and against answers the
simulator never gives."""

import time
from dataclasses import replace
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from gateways.base import BadSignatureError, PermanentGatewayError, TransientGatewayError
from gateways.ecpay import EcpayMethod, QueryRateLimited, check_mac_value, query_trade
from gateways.ecpay.simulator.models import set_faults
from tests.gateways.ecpay.conftest import checkout_request, post_checkout, press, trade_of


@pytest.fixture
def live_config(config, live_server, settings):
    """The stage merchant, asking the simulator that the live server serves."""
    settings.ECPAY_BASE_URL = f"{live_server.url}/simulators/ecpay"
    return replace(config, base_url=settings.ECPAY_BASE_URL)


@pytest.fixture
def checked_out(client, config):
    """A trade the customer has not paid yet."""
    request = checkout_request(EcpayMethod.ATM)
    post_checkout(client, request, config)
    return trade_of(request)


def test_an_unpaid_trade_is_not_paid(live_config, checked_out):
    status = query_trade(checked_out.merchant_trade_no, live_config)

    assert not status.paid
    assert status.merchant_trade_no == checked_out.merchant_trade_no
    assert status.trade_no == checked_out.trade_no
    assert status.trade_amt == Decimal("960")
    assert status.fields["TradeStatus"] == "0"


def test_a_trade_paid_without_a_notification_is_found_paid(client, live_config):
    set_faults(drop_notifications=True)
    request = checkout_request()
    post_checkout(client, request, live_config)
    press(client, "pay", trade_of(request))

    status = query_trade(request.merchant_trade_no, live_config)

    assert status.paid
    assert status.trade_amt == Decimal("960")
    assert status.payment_type == "Credit_CreditCard"
    assert status.payment_date
    assert status.fields["CustomField1"] == "pay_123"


def test_a_failed_card_trade_is_not_paid(client, live_config):
    set_faults(drop_notifications=True)
    request = checkout_request()
    post_checkout(client, request, live_config)
    press(client, "fail", trade_of(request))

    status = query_trade(request.merchant_trade_no, live_config)

    assert not status.paid
    assert status.fields["TradeStatus"] == "10200095"


def test_a_trade_ecpay_never_saw_is_not_paid(live_config):
    status = query_trade("PNEVERSEEN", live_config)

    assert not status.paid
    assert status.fields["TradeStatus"] == "10200047"
    assert status.trade_amt == 0


def test_asking_too_often_is_rate_limited_for_30_minutes(live_config, checked_out):
    set_faults(query_forbidden=True)

    with pytest.raises(QueryRateLimited) as raised:
        query_trade(checked_out.merchant_trade_no, live_config)

    assert isinstance(raised.value, TransientGatewayError)
    assert raised.value.code == "rate_limited"
    assert raised.value.back_off.total_seconds() == 30 * 60


def test_an_answer_signed_with_a_wrong_key_is_refused(live_config, checked_out):
    set_faults(bad_mac=True)

    with pytest.raises(BadSignatureError):
        query_trade(checked_out.merchant_trade_no, live_config)


def test_a_query_signed_with_a_wrong_key_is_refused_by_ecpay(live_config, checked_out):
    wrong = replace(live_config, hash_key="NotOurKey")

    with pytest.raises(PermanentGatewayError, match="CheckMacValue"):
        query_trade(checked_out.merchant_trade_no, wrong)


@pytest.mark.django_db
def test_the_simulator_refuses_a_query_with_an_old_timestamp(client, config):
    fields = {
        "MerchantID": config.merchant_id,
        "MerchantTradeNo": "P1",
        "TimeStamp": str(int(time.time()) - 200),
    }
    mac = check_mac_value(fields, hash_key=config.hash_key, hash_iv=config.hash_iv)

    response = client.post(reverse("ecpay_simulator:query"), {**fields, "CheckMacValue": mac})

    assert response.status_code == 400
    assert "TimeStamp" in response.content.decode()


# Answers the simulator never gives, from a small real HTTP server.


def signed_answer(config, **changes: str) -> str:
    fields = {
        "MerchantID": config.merchant_id,
        "MerchantTradeNo": "P1",
        "TradeNo": "25030416300012345678",
        "TradeAmt": "960",
        "PaymentDate": "2025/03/04 16:31:02",
        "PaymentType": "Credit_CreditCard",
        "TradeStatus": "0",
    }
    fields["CheckMacValue"] = check_mac_value(
        fields, hash_key=config.hash_key, hash_iv=config.hash_iv
    )
    return urlencode({**fields, **changes})


def answering(receiver, config, status: int, body: str):
    receiver.answers = [(status, body)]
    return replace(config, base_url=receiver.url(""))


def test_a_signed_answer_from_a_server_is_read(receiver, config):
    status = query_trade("P1", answering(receiver, config, 200, signed_answer(config)))

    assert status.trade_no == "25030416300012345678"
    assert receiver.posts[0].path == "/Cashier/QueryTradeInfo/V5"


def test_a_tampered_answer_is_refused(receiver, config):
    tampered = signed_answer(config, TradeStatus="1")

    with pytest.raises(BadSignatureError):
        query_trade("P1", answering(receiver, config, 200, tampered))


def test_an_answer_about_another_trade_is_refused(receiver, config):
    with pytest.raises(PermanentGatewayError, match="another trade"):
        query_trade("P2", answering(receiver, config, 200, signed_answer(config)))


def test_the_query_is_signed_and_stamped_with_the_time(receiver, config):
    query_trade("P1", answering(receiver, config, 200, signed_answer(config)))

    sent = receiver.posts[0].fields
    assert sent.keys() == {"MerchantID", "MerchantTradeNo", "TimeStamp", "CheckMacValue"}
    assert abs(int(sent["TimeStamp"]) - time.time()) < 5
    expected = check_mac_value(sent, hash_key=config.hash_key, hash_iv=config.hash_iv)
    assert sent["CheckMacValue"] == expected


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_is_transient(receiver, config, status):
    with pytest.raises(TransientGatewayError):
        query_trade("P1", answering(receiver, config, status, "Service Unavailable"))


@pytest.mark.parametrize("status", [400, 404])
def test_another_refusal_is_permanent(receiver, config, status):
    with pytest.raises(PermanentGatewayError, match=str(status)):
        query_trade("P1", answering(receiver, config, status, "no"))


def test_a_refusal_in_plain_words_is_permanent(receiver, config):
    with pytest.raises(PermanentGatewayError, match="Parameter Error"):
        query_trade("P1", answering(receiver, config, 200, "Parameter Error"))


def test_a_server_that_cannot_be_reached_is_transient(config):
    unreachable = replace(config, base_url="http://127.0.0.1:9")

    with pytest.raises(TransientGatewayError):
        query_trade("P1", unreachable, timeout=2)


def test_a_barcode_paid_at_the_store_is_not_paid_at_ecpay_until_its_result_is_due(
    client, live_config
):
    set_faults(drop_notifications=True)
    request = checkout_request(EcpayMethod.BARCODE)
    post_checkout(client, request, live_config)
    press(client, "issue-code", trade_of(request))
    press(client, "pay-code", trade_of(request))

    assert not query_trade(request.merchant_trade_no, live_config).paid

    trade = trade_of(request)
    trade.result_due_at = trade.payment_date
    trade.save()
    status = query_trade(request.merchant_trade_no, live_config)
    assert status.paid
    assert status.payment_date
