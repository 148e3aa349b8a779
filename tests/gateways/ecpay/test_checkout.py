"""The checkout form our page makes the customer's browser post to ECPay."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from gateways.ecpay import (
    EcpayConfig,
    EcpayMethod,
    build_checkout_form,
    check_mac_matches,
    ecpay_config,
    new_merchant_trade_no,
)
from tests.gateways.ecpay.conftest import SHOP, checkout_request

CODE_FIELDS = {"ExpireDate", "StoreExpireDate", "PaymentInfoURL"}


def fields_of(request, config: EcpayConfig) -> dict[str, str]:
    return build_checkout_form(request, config).fields


def test_a_credit_card_form_has_every_field_aio_checkout_needs(config):
    request = checkout_request(merchant_trade_no="P25030416300012345AB")

    form = build_checkout_form(request, config)

    assert form.action == f"{config.base_url}/Cashier/AioCheckOut/V5"
    assert {k: v for k, v in form.fields.items() if k != "CheckMacValue"} == {
        "MerchantID": "3002607",
        "MerchantTradeNo": "P25030416300012345AB",
        "MerchantTradeDate": "2025/03/04 16:30:00",
        "PaymentType": "aio",
        "TotalAmount": "960",
        "TradeDesc": "Order 1001",
        "ItemName": "Oolong tea#Pineapple cake",
        "ReturnURL": f"{SHOP}/callbacks/ecpay/notify/",
        "OrderResultURL": f"{SHOP}/checkout/result/",
        "ClientBackURL": f"{SHOP}/orders/1001/",
        "ChoosePayment": "Credit",
        "EncryptType": "1",
        "NeedExtraPaidInfo": "N",
        "CustomField1": "pay_123",
    }


def test_the_form_carries_its_own_check_mac_value(config):
    fields = fields_of(checkout_request(EcpayMethod.ATM, item_names=["綠茶 ~'@"]), config)

    assert check_mac_matches(fields, hash_key=config.hash_key, hash_iv=config.hash_iv)


def test_the_trade_date_is_written_in_taiwan_time(config):
    request = checkout_request(trade_date=datetime(2025, 3, 4, 16, 0, tzinfo=UTC))

    assert fields_of(request, config)["MerchantTradeDate"] == "2025/03/05 00:00:00"


def test_the_trade_date_is_now_unless_given(config):
    fields = fields_of(checkout_request(trade_date=None), config)

    sent = datetime.strptime(fields["MerchantTradeDate"], "%Y/%m/%d %H:%M:%S").replace(
        tzinfo=timezone.get_fixed_timezone(480)
    )
    assert abs(sent - timezone.now()) < timedelta(seconds=5)


def test_a_naive_trade_date_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        checkout_request(trade_date=datetime(2025, 3, 4, 16, 0))  # noqa: DTZ001


@pytest.mark.parametrize(("amount", "sent"), [("960", "960"), ("960.00", "960"), ("1", "1")])
def test_the_amount_is_sent_as_whole_twd(config, amount, sent):
    request = checkout_request(total_amount=Decimal(amount))

    assert fields_of(request, config)["TotalAmount"] == sent


@pytest.mark.parametrize("amount", ["960.50", "0.4", "0", "-1", "NaN", "Infinity"])
def test_an_amount_that_is_not_whole_twd_above_zero_is_refused(amount):
    with pytest.raises(ValueError, match="whole number of TWD"):
        checkout_request(total_amount=Decimal(amount))


@pytest.mark.parametrize("amount", [960.0, 960])
def test_an_amount_that_is_not_a_decimal_is_refused(amount):
    with pytest.raises(TypeError, match="Decimal"):
        checkout_request(total_amount=amount)


@pytest.mark.parametrize("number", ["", "P-123", "P 123", "P12345678901234567890", "單號1"])
def test_a_merchant_trade_no_that_ecpay_refuses_is_refused(number):
    with pytest.raises(ValueError, match="MerchantTradeNo"):
        checkout_request(merchant_trade_no=number)


def test_item_names_are_joined_with_hashes(config):
    request = checkout_request(item_names=["Tea", "Cake", "Mug"])

    assert fields_of(request, config)["ItemName"] == "Tea#Cake#Mug"


def test_item_names_are_cut_to_400_characters_between_names(config):
    names = ["a" * 150, "b" * 150, "c" * 150]

    item_name = fields_of(checkout_request(item_names=names), config)["ItemName"]

    assert item_name == f"{'a' * 150}#{'b' * 150}"


def test_a_first_item_name_longer_than_400_characters_is_cut(config):
    item_name = fields_of(checkout_request(item_names=["x" * 500, "y"]), config)["ItemName"]

    assert item_name == "x" * 400


def test_item_names_lose_the_characters_ecpay_refuses_and_hashes_never_split_a_name(config):
    names = ['Gift box <b>"large"</b>', "Tea #1", "禮盒（大）×2", "<>"]

    item_name = fields_of(checkout_request(item_names=names), config)["ItemName"]

    assert item_name == "Gift box b large /b#Tea 1#禮盒 大 2"


def test_nothing_left_of_every_item_name_is_refused(config):
    with pytest.raises(ValueError, match="item name"):
        build_checkout_form(checkout_request(item_names=["<>", "&"]), config)


def test_the_trade_description_loses_the_characters_ecpay_refuses(config):
    request = checkout_request(trade_desc="Mom's tea & cake; 50% off!\n促銷")

    assert fields_of(request, config)["TradeDesc"] == "Mom s tea cake 50 off 促銷"


def test_the_trade_description_is_cut_to_200_characters(config):
    assert len(fields_of(checkout_request(trade_desc="d" * 300), config)["TradeDesc"]) == 200


def test_nothing_left_of_the_trade_description_is_refused(config):
    with pytest.raises(ValueError, match="trade description"):
        build_checkout_form(checkout_request(trade_desc="<>"), config)


@pytest.mark.parametrize("method", [EcpayMethod.CREDIT, EcpayMethod.ALL])
def test_card_forms_ask_for_no_payment_code(config, method):
    fields = fields_of(checkout_request(method), config)

    assert fields["ChoosePayment"] == method.value
    assert not CODE_FIELDS & fields.keys()


def test_an_atm_form_asks_for_the_account_to_stay_open_and_to_be_told_it(config, settings):
    settings.ECPAY_ATM_EXPIRE_DAYS = 5

    fields = fields_of(checkout_request(EcpayMethod.ATM), config)

    assert fields["ChoosePayment"] == "ATM"
    assert fields["ExpireDate"] == "5"
    assert fields["PaymentInfoURL"] == f"{SHOP}/callbacks/ecpay/payment-info/"
    assert "StoreExpireDate" not in fields


@pytest.mark.parametrize(
    ("method", "value"),
    # The same field, in minutes for a CVS code and in days for a barcode.
    [(EcpayMethod.CVS, "1440"), (EcpayMethod.BARCODE, "3")],
)
def test_a_store_code_form_asks_for_the_code_to_stay_valid_and_to_be_told_it(
    config, settings, method, value
):
    settings.ECPAY_CVS_EXPIRE_MINUTES = 1440
    settings.ECPAY_BARCODE_EXPIRE_DAYS = 3

    fields = fields_of(checkout_request(method), config)

    assert fields["ChoosePayment"] == method.value
    assert fields["StoreExpireDate"] == value
    assert fields["PaymentInfoURL"] == f"{SHOP}/callbacks/ecpay/payment-info/"
    assert "ExpireDate" not in fields


def test_the_default_validities_are_within_ecpays_ranges(config):
    assert fields_of(checkout_request(EcpayMethod.ATM), config)["ExpireDate"] == "3"
    assert fields_of(checkout_request(EcpayMethod.CVS), config)["StoreExpireDate"] == "10080"
    assert fields_of(checkout_request(EcpayMethod.BARCODE), config)["StoreExpireDate"] == "7"


def test_a_new_merchant_trade_no_is_twenty_letters_and_digits_starting_with_taiwan_time():
    before = timezone.now().astimezone(timezone.get_fixed_timezone(480))

    number = new_merchant_trade_no()

    assert re.fullmatch(r"P[0-9]{12}[0-9A-Z]{7}", number)
    assert number[1:7] == before.strftime("%y%m%d")


def test_new_merchant_trade_nos_are_never_the_same():
    numbers = {new_merchant_trade_no() for _ in range(10_000)}

    assert len(numbers) == 10_000


def test_the_config_is_read_from_settings_at_each_call(settings):
    settings.ECPAY_MERCHANT_ID = "2000132"
    settings.ECPAY_HASH_KEY = "key"
    settings.ECPAY_HASH_IV = "iv"
    settings.ECPAY_BASE_URL = "https://payment.ecpay.com.tw/"

    config = ecpay_config()

    assert config == EcpayConfig(
        merchant_id="2000132",
        hash_key="key",
        hash_iv="iv",
        base_url="https://payment.ecpay.com.tw",
    )
    assert config.checkout_url == "https://payment.ecpay.com.tw/Cashier/AioCheckOut/V5"
    assert config.query_url == "https://payment.ecpay.com.tw/Cashier/QueryTradeInfo/V5"
