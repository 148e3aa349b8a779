"""CreditDetail/DoAction (refund) over real HTTP: the client against the simulator."""

from dataclasses import replace
from decimal import Decimal

import pytest

from gateways.base import OutcomeUnknownError, PermanentGatewayError, TransientGatewayError
from gateways.ecpay import EcpayMethod, credit_refund
from gateways.ecpay.simulator.models import set_faults
from tests.gateways.ecpay.conftest import checkout_request, post_checkout, press, trade_of


@pytest.fixture
def live_config(config, live_server, settings):
    settings.ECPAY_BASE_URL = f"{live_server.url}/simulators/ecpay"
    return replace(config, base_url=settings.ECPAY_BASE_URL)


@pytest.fixture
def paid_card_trade(client, live_config):
    set_faults(drop_notifications=True)  # nobody listens at the shop's ReturnURL here
    request = checkout_request(EcpayMethod.CREDIT)
    post_checkout(client, request, live_config)
    press(client, "pay", trade_of(request))
    return trade_of(request)


def refund(trade, amount: str, config) -> None:
    credit_refund(
        merchant_trade_no=trade.merchant_trade_no,
        trade_no=trade.trade_no,
        amount=Decimal(amount),
        config=config,
    )


def test_a_paid_card_trade_is_refunded_in_parts_up_to_its_amount(paid_card_trade, live_config):
    refund(paid_card_trade, "100", live_config)
    refund(paid_card_trade, "860", live_config)

    paid_card_trade.refresh_from_db()
    assert paid_card_trade.refunded_amount == Decimal("960")
    with pytest.raises(PermanentGatewayError) as refused:
        refund(paid_card_trade, "1", live_config)
    assert refused.value.code == "ecpay_10100104"


def test_an_unpaid_or_atm_trade_is_not_refunded(client, live_config):
    request = checkout_request(EcpayMethod.ATM)
    post_checkout(client, request, live_config)

    with pytest.raises(PermanentGatewayError):
        refund(trade_of(request), "100", live_config)
    assert trade_of(request).refunded_amount == 0


def test_a_refund_ecpay_cannot_read_is_an_unknown_outcome_never_a_failure(
    paid_card_trade, live_config
):
    # ECPay refuses a bad CheckMacValue in plain words: we cannot tell from those what it did.
    with pytest.raises(OutcomeUnknownError):
        refund(paid_card_trade, "100", replace(live_config, hash_key="wrong" * 4))
    paid_card_trade.refresh_from_db()
    assert paid_card_trade.refunded_amount == 0


def test_a_refund_that_cannot_connect_is_transient(config):
    with pytest.raises(TransientGatewayError):
        credit_refund(
            merchant_trade_no="P1",
            trade_no="T1",
            amount=Decimal("1"),
            config=replace(config, base_url="http://127.0.0.1:9"),
        )


def test_fractions_of_a_dollar_are_refused_before_sending(config):
    with pytest.raises(ValueError, match="whole number"):
        credit_refund(merchant_trade_no="P1", trade_no="T1", amount=Decimal("1.5"), config=config)
