"""The simulator's checkout page refuses what ECPay refuses and offers what ECPay offers."""

from decimal import Decimal

import pytest
from django.urls import reverse

from gateways.ecpay import EcpayMethod, build_checkout_form, check_mac_value
from gateways.ecpay.simulator.models import SimulatedEcpayTrade, SimulatedEcpayTradeStatus
from tests.gateways.ecpay.conftest import SHOP, checkout_request, post_checkout, trade_of

pytestmark = pytest.mark.django_db


def post_fields(client, fields):
    return client.post(reverse("ecpay_simulator:checkout"), fields)


def resigned(fields, config, **changes):
    """The form with `changes` (None removes a field), signed again by the merchant."""
    changed = {k: v for k, v in {**fields, **changes}.items() if k != "CheckMacValue"}
    unsigned = {k: v for k, v in changed.items() if v is not None}
    mac = check_mac_value(unsigned, hash_key=config.hash_key, hash_iv=config.hash_iv)
    return {**unsigned, "CheckMacValue": mac}


def test_a_signed_form_records_the_trade_and_shows_the_amount_and_items(client, config):
    request = checkout_request()

    response = post_checkout(client, request, config)

    assert response.status_code == 200
    page = response.content.decode()
    assert "NT$ 960" in page
    assert "Oolong tea" in page
    assert "Pineapple cake" in page
    trade = trade_of(request)
    assert trade.amount == 960
    assert trade.method == "Credit"
    assert trade.status == SimulatedEcpayTradeStatus.AWAITING
    assert trade.return_url == f"{SHOP}/callbacks/ecpay/notify/"
    assert trade.order_result_url == f"{SHOP}/checkout/result/"
    assert trade.client_back_url == f"{SHOP}/orders/1001/"
    assert trade.custom_field1 == "pay_123"
    assert len(trade.trade_no) == 20


@pytest.mark.parametrize(
    ("method", "buttons", "absent"),
    [
        (EcpayMethod.CREDIT, [">Pay<", ">Fail<"], "Get "),
        (EcpayMethod.ALL, [">Pay<", ">Fail<"], "Get "),
        (EcpayMethod.ATM, [">Get ATM account<"], ">Pay<"),
        (EcpayMethod.CVS, [">Get CVS code<"], ">Pay<"),
        (EcpayMethod.BARCODE, [">Get CVS code<"], ">Pay<"),
    ],
)
def test_the_page_offers_the_buttons_of_the_chosen_payment(client, config, method, buttons, absent):
    page = post_checkout(client, checkout_request(method), config).content.decode()

    for button in buttons:
        assert button in page
    assert absent not in page


def test_a_form_with_a_wrong_check_mac_value_is_refused(client, config):
    fields = build_checkout_form(checkout_request(), config).fields

    response = post_fields(client, {**fields, "TotalAmount": "1"})

    assert response.status_code == 400
    assert "CheckMacValue" in response.content.decode()
    assert not SimulatedEcpayTrade.objects.exists()


def test_a_form_without_a_check_mac_value_is_refused(client, config):
    fields = build_checkout_form(checkout_request(), config).fields
    del fields["CheckMacValue"]

    assert post_fields(client, fields).status_code == 400


@pytest.mark.parametrize("name", ["TradeDesc", "ItemName", "ReturnURL", "MerchantTradeDate"])
def test_a_signed_form_missing_a_required_field_is_refused(client, config, name):
    fields = build_checkout_form(checkout_request(), config).fields

    response = post_fields(client, resigned(fields, config, **{name: None}))

    assert response.status_code == 400
    assert name in response.content.decode()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MerchantID", "2000132"),
        ("TotalAmount", "960.5"),
        ("TotalAmount", "0"),
        ("MerchantTradeNo", "P-1"),
        ("MerchantTradeNo", "P" + "1" * 20),
        ("MerchantTradeDate", "2025-03-04 16:30:00"),
        ("PaymentType", "Aio"),
        ("EncryptType", "0"),
        ("ChoosePayment", "WeChat"),
        ("TradeDesc", "d" * 201),
        ("CustomField1", "c" * 51),
    ],
)
def test_a_signed_form_with_a_value_ecpay_refuses_is_refused(client, config, name, value):
    fields = build_checkout_form(checkout_request(), config).fields

    response = post_fields(client, resigned(fields, config, **{name: value}))

    assert response.status_code == 400
    assert not SimulatedEcpayTrade.objects.exists()


def test_a_merchant_trade_no_used_before_is_refused(client, config):
    request = checkout_request()
    post_checkout(client, request, config)

    response = post_checkout(client, request, config)

    assert response.status_code == 400
    assert "used before" in response.content.decode()
    assert SimulatedEcpayTrade.objects.count() == 1


def test_a_merchant_trade_no_of_an_abandoned_checkout_is_refused_too(client, config):
    first = checkout_request(EcpayMethod.ATM)
    post_checkout(client, first, config)

    again = checkout_request(merchant_trade_no=first.merchant_trade_no, total_amount=Decimal("100"))

    assert post_checkout(client, again, config).status_code == 400


def test_an_item_name_longer_than_ecpay_takes_is_cut(client, config):
    fields = build_checkout_form(checkout_request(), config).fields

    post_fields(client, resigned(fields, config, ItemName="n" * 450))

    assert SimulatedEcpayTrade.objects.get().item_name == "n" * 400


def test_the_checkout_takes_only_posts(client):
    assert client.get(reverse("ecpay_simulator:checkout")).status_code == 405


def test_the_simulator_is_served_under_simulators_ecpay():
    assert reverse("ecpay_simulator:checkout") == "/simulators/ecpay/Cashier/AioCheckOut/V5"
    assert reverse("ecpay_simulator:query") == "/simulators/ecpay/Cashier/QueryTradeInfo/V5"


@pytest.mark.parametrize(
    ("method", "name", "value"),
    [
        (EcpayMethod.ATM, "ExpireDate", "0"),
        (EcpayMethod.ATM, "ExpireDate", "61"),
        (EcpayMethod.CVS, "StoreExpireDate", "43201"),
        # The CVS minutes sent for a barcode, whose StoreExpireDate is days.
        (EcpayMethod.BARCODE, "StoreExpireDate", "10080"),
        (EcpayMethod.BARCODE, "StoreExpireDate", "31"),
        (EcpayMethod.CVS, "TotalAmount", "32"),
        (EcpayMethod.CVS, "TotalAmount", "6001"),
        (EcpayMethod.BARCODE, "TotalAmount", "16"),
        (EcpayMethod.ATM, "TotalAmount", "50000"),
        (EcpayMethod.CREDIT, "TotalAmount", "4"),
    ],
)
def test_a_value_outside_ecpays_range_for_the_method_is_refused(
    client, config, method, name, value
):
    fields = build_checkout_form(checkout_request(method), config).fields

    response = post_fields(client, resigned(fields, config, **{name: value}))

    assert response.status_code == 400
    assert name in response.content.decode()
    assert not SimulatedEcpayTrade.objects.exists()


@pytest.mark.parametrize(
    ("method", "name", "value"),
    [
        (EcpayMethod.ATM, "ExpireDate", "60"),
        (EcpayMethod.CVS, "StoreExpireDate", "43200"),
        (EcpayMethod.BARCODE, "StoreExpireDate", "30"),
        (EcpayMethod.BARCODE, "TotalAmount", "20000"),
    ],
)
def test_the_edges_of_ecpays_ranges_are_taken(client, config, method, name, value):
    fields = build_checkout_form(checkout_request(method), config).fields

    response = post_fields(client, resigned(fields, config, **{name: value}))

    assert response.status_code == 200
    assert SimulatedEcpayTrade.objects.get().method == method
