"""Reading ECPay's notifications: the CheckMacValue first, then the fields."""

from decimal import Decimal

import pytest

from gateways.base import BadSignatureError, PermanentGatewayError
from gateways.ecpay import RtnCode, check_mac_matches, check_mac_value, parse_notification

PAID = {
    "MerchantID": "3002607",
    "MerchantTradeNo": "P250304163000ABCDEFG",
    "StoreID": "",
    "RtnCode": "1",
    "RtnMsg": "交易成功",
    "TradeNo": "25030416300012345678",
    "TradeAmt": "960",
    "PaymentDate": "2025/03/04 16:31:02",
    "PaymentType": "Credit_CreditCard",
    "PaymentTypeChargeFee": "19",
    "TradeDate": "2025/03/04 16:30:00",
    "SimulatePaid": "0",
    "CustomField1": "pay_123",
    "CustomField2": "",
    "CustomField3": "",
    "CustomField4": "",
}
CODE_COMMON = {
    "MerchantID": "3002607",
    "MerchantTradeNo": "P250304163000ABCDEFG",
    "StoreID": "",
    "TradeNo": "25030416300012345678",
    "TradeAmt": "960",
    "TradeDate": "2025/03/04 16:30:00",
    "CustomField1": "pay_123",
}
ATM_CODE = {
    **CODE_COMMON,
    "RtnCode": "2",
    "RtnMsg": "Get VirtualAccount Succeeded",
    "PaymentType": "ATM_TAISHIN",
    "BankCode": "812",
    "vAccount": "9103522175887271",
    "ExpireDate": "2025/03/07",
}
CVS_CODE = {
    **CODE_COMMON,
    "RtnCode": "10100073",
    "RtnMsg": "Get CVS Code Succeeded.",
    "PaymentType": "CVS_CVS",
    "PaymentNo": "LLL22251222222",
    "ExpireDate": "2025/03/11 16:30:00",
    "Barcode1": "",
    "Barcode2": "",
    "Barcode3": "",
}


BARCODE_CODE = {
    **CVS_CODE,
    "PaymentType": "BARCODE_BARCODE",
    "PaymentNo": "",
    "Barcode1": "250311657",
    "Barcode2": "1234567890123456",
    "Barcode3": "1231AI000000100",
}


def signed(fields: dict[str, str], config) -> dict[str, str]:
    mac = check_mac_value(fields, hash_key=config.hash_key, hash_iv=config.hash_iv)
    return {**fields, "CheckMacValue": mac}


def recased(fields: dict[str, str], name: str) -> dict[str, str]:
    """`fields` with `name` in lower case, its CheckMacValue kept."""
    return {(key.lower() if key == name else key): value for key, value in fields.items()}


class FieldsThatCountLookups(dict[str, str]):
    """A notification's fields, remembering every name the parser looks up."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(fields)
        self.looked_up: set[str] = set()

    def get(self, name, default=None):
        self.looked_up.add(name)
        return super().get(name, default)


def test_a_paid_notification_is_read(config):
    fields = signed(PAID, config)

    notification = parse_notification(fields, config)

    assert notification.paid
    assert not notification.code_issued
    assert notification.merchant_id == "3002607"
    assert notification.merchant_trade_no == "P250304163000ABCDEFG"
    assert notification.rtn_code == RtnCode.PAID
    assert notification.rtn_msg == "交易成功"
    assert notification.trade_no == "25030416300012345678"
    assert notification.trade_amt == Decimal("960")
    assert notification.payment_type == "Credit_CreditCard"
    assert notification.payment_date == "2025/03/04 16:31:02"
    assert notification.simulate_paid is False
    assert notification.custom_field1 == "pay_123"
    assert notification.fields == fields


def test_a_paid_notification_has_no_payment_code_even_if_it_carries_one(config):
    notification = parse_notification(signed({**PAID, "ExpireDate": "2025/03/07"}, config), config)

    assert (notification.bank_code, notification.v_account, notification.payment_no) == ("",) * 3
    assert notification.expire_date == ""
    assert notification.barcodes == ("", "", "")


def test_a_failed_payment_is_neither_paid_nor_a_code(config):
    fields = signed({**PAID, "RtnCode": "10100058", "RtnMsg": "付款失敗"}, config)

    notification = parse_notification(fields, config)

    assert notification.rtn_code == 10100058
    assert not notification.paid
    assert not notification.code_issued


def test_a_payment_simulated_in_ecpays_back_office_says_so(config):
    notification = parse_notification(signed({**PAID, "SimulatePaid": "1"}, config), config)

    assert notification.paid
    assert notification.simulate_paid


def test_extra_paid_info_fields_are_signed_and_kept(config):
    fields = signed({**PAID, "card4no": "2222", "auth_code": "777777"}, config)

    assert parse_notification(fields, config).fields["card4no"] == "2222"


def test_another_merchants_notification_is_read_for_the_caller_to_refuse(config):
    notification = parse_notification(signed({**PAID, "MerchantID": "2000132"}, config), config)

    assert notification.merchant_id == "2000132"


def test_a_changed_field_fails_the_signature(config):
    fields = {**signed(PAID, config), "TradeAmt": "1"}

    with pytest.raises(BadSignatureError):
        parse_notification(fields, config)


def test_a_notification_signed_with_another_key_fails_the_signature(config):
    mac = check_mac_value(PAID, hash_key="another-key", hash_iv=config.hash_iv)

    with pytest.raises(BadSignatureError):
        parse_notification({**PAID, "CheckMacValue": mac}, config)


def test_a_notification_without_a_check_mac_value_fails_the_signature(config):
    with pytest.raises(BadSignatureError):
        parse_notification(PAID, config)


def test_the_signature_is_checked_before_the_fields(config):
    unsigned_and_incomplete = {"RtnCode": "1"}

    with pytest.raises(BadSignatureError):
        parse_notification(unsigned_and_incomplete, config)


@pytest.mark.parametrize("name", ["MerchantID", "MerchantTradeNo", "RtnCode", "TradeAmt"])
def test_a_signed_notification_missing_a_required_field_is_malformed(config, name):
    fields = {key: value for key, value in PAID.items() if key != name}

    with pytest.raises(PermanentGatewayError, match=name) as raised:
        parse_notification(signed(fields, config), config)

    assert raised.value.code == "malformed_notification"


@pytest.mark.parametrize(
    ("name", "value"),
    [("RtnCode", "paid"), ("RtnCode", ""), ("TradeAmt", "960.5"), ("TradeAmt", "-960")],
)
def test_a_signed_notification_with_a_malformed_number_is_malformed(config, name, value):
    with pytest.raises(PermanentGatewayError, match=name) as raised:
        parse_notification(signed({**PAID, name: value}, config), config)

    assert raised.value.code == "malformed_notification"


def test_an_atm_account_notification_is_read(config):
    notification = parse_notification(signed(ATM_CODE, config), config)

    assert notification.code_issued
    assert not notification.paid
    assert notification.rtn_code == RtnCode.ATM_CODE_ISSUED
    assert notification.bank_code == "812"
    assert notification.v_account == "9103522175887271"
    assert notification.expire_date == "2025/03/07"
    assert notification.trade_amt == Decimal("960")


def test_a_cvs_code_notification_is_read(config):
    notification = parse_notification(signed(CVS_CODE, config), config)

    assert notification.code_issued
    assert notification.rtn_code == RtnCode.CVS_CODE_ISSUED
    assert notification.payment_no == "LLL22251222222"
    assert notification.expire_date == "2025/03/11 16:30:00"
    assert notification.barcodes == ("", "", "")


def test_a_barcode_notification_is_read(config):
    barcodes = {"Barcode1": "250311657", "Barcode2": "1234567890123456", "Barcode3": "1"}
    fields = {**CVS_CODE, "PaymentType": "BARCODE_BARCODE", "PaymentNo": "", **barcodes}

    notification = parse_notification(signed(fields, config), config)

    assert notification.code_issued
    assert notification.payment_no == ""
    assert notification.barcodes == ("250311657", "1234567890123456", "1")


@pytest.mark.parametrize("name", ["BankCode", "vAccount"])
def test_an_atm_account_notification_without_the_account_is_malformed(config, name):
    fields = {key: value for key, value in ATM_CODE.items() if key != name}

    with pytest.raises(PermanentGatewayError, match=name):
        parse_notification(signed(fields, config), config)


def test_a_store_code_notification_without_a_code_is_malformed(config):
    with pytest.raises(PermanentGatewayError, match="PaymentNo"):
        parse_notification(signed({**CVS_CODE, "PaymentNo": ""}, config), config)


def test_a_code_notification_without_its_amount_is_malformed(config):
    fields = {key: value for key, value in ATM_CODE.items() if key != "TradeAmt"}

    with pytest.raises(PermanentGatewayError, match="TradeAmt"):
        parse_notification(signed(fields, config), config)


def simulate_paid_folded_into_rtn_msg(fields: dict[str, str]) -> dict[str, str]:
    """SimulatePaid removed and written into RtnMsg, the field signed just before it."""
    folded = {name: value for name, value in fields.items() if name != "SimulatePaid"}
    folded["RtnMsg"] = f"{fields['RtnMsg']}&SimulatePaid={fields['SimulatePaid']}"
    return folded


def simulate_paid_folded_into_a_name(fields: dict[str, str]) -> dict[str, str]:
    """RtnMsg and SimulatePaid made one field whose name is the first and half the second."""
    folded = {
        name: value for name, value in fields.items() if name not in ("RtnMsg", "SimulatePaid")
    }
    folded[f"RtnMsg={fields['RtnMsg']}&SimulatePaid"] = fields["SimulatePaid"]
    return folded


def rtn_msg_cut_at_its_equals_sign(fields: dict[str, str]) -> dict[str, str]:
    """RtnMsg `a=b` sent as a field named `RtnMsg=a` holding `b`."""
    head, tail = fields["RtnMsg"].split("=", 1)
    cut = {name: value for name, value in fields.items() if name != "RtnMsg"}
    cut[f"RtnMsg={head}"] = tail
    return cut


@pytest.mark.parametrize(
    ("genuine", "tamper"),
    [
        ({**PAID, "SimulatePaid": "1"}, simulate_paid_folded_into_rtn_msg),
        ({**PAID, "SimulatePaid": "1"}, simulate_paid_folded_into_a_name),
        ({**PAID, "SimulatePaid": "1"}, lambda fields: recased(fields, "SimulatePaid")),
        ({**PAID, "RtnMsg": "code=0"}, rtn_msg_cut_at_its_equals_sign),
        (CVS_CODE, lambda fields: recased(fields, "ExpireDate")),
    ],
    ids=[
        "simulate-paid-folded-into-rtn-msg",
        "simulate-paid-folded-into-a-name",
        "simulate-paid-recased",
        "rtn-msg-cut-at-its-equals-sign",
        "expire-date-recased",
    ],
)
def test_a_signed_notification_recut_or_recased_keeps_its_mac_but_is_malformed(
    config, genuine, tamper
):
    tampered = tamper(signed(genuine, config))
    # ECPay's MAC lower-cases what it signs and joins the fields with "&": it still verifies.
    assert check_mac_matches(tampered, hash_key=config.hash_key, hash_iv=config.hash_iv)

    with pytest.raises(PermanentGatewayError) as raised:
        parse_notification(tampered, config)

    assert raised.value.code == "malformed_notification"


@pytest.mark.parametrize(
    "fields", [PAID, ATM_CODE, CVS_CODE, BARCODE_CODE], ids=["paid", "atm", "cvs", "barcode"]
)
def test_every_field_the_parser_reads_is_refused_in_other_letters(config, fields):
    counted = FieldsThatCountLookups(signed(fields, config))
    parse_notification(counted, config)
    read = (counted.looked_up & fields.keys()) - {"CheckMacValue"}
    assert {"MerchantTradeNo", "RtnCode", "TradeAmt"} <= read

    for name in sorted(read):
        with pytest.raises(PermanentGatewayError, match=name) as raised:
            parse_notification(recased(signed(fields, config), name), config)
        assert raised.value.code == "malformed_notification"


def test_a_field_the_parser_does_not_read_may_come_in_any_letters(config):
    fields = signed({**PAID, "card4no": "2222", "PaymentTypeChargeFee": "19"}, config)

    assert parse_notification(recased(fields, "PaymentTypeChargeFee"), config).paid


@pytest.mark.parametrize("simulate_paid", [None, "", "2", "01", "true"])
def test_a_paid_notification_must_say_whether_it_was_simulated(config, simulate_paid):
    fields = {name: value for name, value in PAID.items() if name != "SimulatePaid"}
    if simulate_paid is not None:
        fields["SimulatePaid"] = simulate_paid

    with pytest.raises(PermanentGatewayError, match="SimulatePaid") as raised:
        parse_notification(signed(fields, config), config)

    assert raised.value.code == "malformed_notification"


def test_a_failure_and_a_code_are_read_without_simulate_paid(config):
    failure = {name: value for name, value in PAID.items() if name != "SimulatePaid"}
    failure["RtnCode"] = "10100058"

    assert not parse_notification(signed(failure, config), config).simulate_paid
    assert "SimulatePaid" not in CVS_CODE
    assert parse_notification(signed(CVS_CODE, config), config).code_issued
