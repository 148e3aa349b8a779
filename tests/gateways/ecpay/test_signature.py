"""CheckMacValue against ECPay's published examples and .NET's HttpUtility.UrlEncode, character
by character."""

import hashlib

import pytest

from gateways.base import MissingSecretError
from gateways.ecpay import check_mac_matches, check_mac_value
from tests.gateways.ecpay.conftest import STAGE_HASH_IV, STAGE_HASH_KEY

STAGE = {"hash_key": STAGE_HASH_KEY, "hash_iv": STAGE_HASH_IV}


def sha256_of(encoded: str) -> str:
    return hashlib.sha256(encoded.encode("ascii")).hexdigest().upper()


def encoded_with_stage_keys(middle: str) -> str:
    return f"hashkey%3d{STAGE_HASH_KEY.lower()}%26{middle}%26hashiv%3d{STAGE_HASH_IV.lower()}"


def test_the_published_sha256_example_gives_the_published_value():
    params = {
        "TradeDesc": "促銷方案",
        "PaymentType": "aio",
        "MerchantTradeDate": "2023/03/12 15:30:23",
        "MerchantTradeNo": "ecpay20230312153023",
        "MerchantID": "3002607",
        "ReturnURL": "https://www.ecpay.com.tw/receive.php",
        "ItemName": "Apple iphone 15",
        "TotalAmount": "30000",
        "ChoosePayment": "ALL",
        "EncryptType": "1",
    }

    assert check_mac_value(params, **STAGE) == (
        "6C51C9E6888DE861FD62FB1DD17029FC742634498FD813DC43D4243B5685B840"
    )


def test_the_published_example_with_a_leading_space_gives_the_published_value():
    params = {
        "MerchantID": "3002607",
        "MerchantTradeNo": "order20250304001",
        "MerchantTradeDate": "2025/03/04 00:00:00",
        "PaymentType": "aio",
        "TotalAmount": "100",
        "TradeDesc": "訂單測試",
        "ItemName": "範例商品",
        "ReturnURL": " https://5569-211-23-76-78.ngrok-free.app/returnurl.php",
        "ChoosePayment": "ALL",
        "EncryptType": "1",
    }

    assert check_mac_value(params, **STAGE) == (
        "B251AD005829A4072192E495BF484DCF3830D75382AB34DF46F8F3AA8F794940"
    )


def test_the_published_md5_example_gives_the_published_value():
    params = {
        "RtnCode": "1",
        "RtnMsg": "",
        "IA_Allow_No": "1909181313013546",
        "IA_Invoice_No": "UV11100019",
        "IA_Date": "2019-09-18 13:13:23",
        "IIS_Remain_Allowance_Amt": "0",
    }

    mac = check_mac_value(
        params, hash_key="ejCk326UnaZWKisg", hash_iv="q9jcZX8Ib9LM8wYk", algorithm="md5"
    )

    assert mac == "50A276E71DAE26343013958B405EEEA0"


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("~", "%7e"),
        ("'", "%27"),
        ("@", "%40"),
        ("&", "%26"),
        ("+", "%2b"),
        ("=", "%3d"),
        ("#", "%23"),
        ("%", "%25"),
        ('"', "%22"),
        ("/", "%2f"),
        (" ", "+"),
        ("*", "*"),
        ("(", "("),
        (")", ")"),
        ("!", "!"),
        ("-_.", "-_."),
        ("AZaz09", "azaz09"),
        ("綠界", "%e7%b6%a0%e7%95%8c"),
        ("É", "%c3%89"),
        ("", ""),
    ],
)
def test_each_character_is_encoded_as_dotnet_urlencode_does_then_lower_cased(value, encoded):
    expected = sha256_of(encoded_with_stage_keys(f"value%3d{encoded}"))

    assert check_mac_value({"Value": value}, **STAGE) == expected


def test_names_are_sorted_without_regard_to_case():
    params = {"vAccount": "4", "b": "2", "TradeNo": "3", "A": "1"}
    expected = sha256_of(encoded_with_stage_keys("a%3d1%26b%3d2%26tradeno%3d3%26vaccount%3d4"))

    assert check_mac_value(params, **STAGE) == expected


def test_values_are_signed_exactly_as_given_without_trimming():
    assert check_mac_value({"A": " x "}, **STAGE) != check_mac_value({"A": "x"}, **STAGE)


def test_an_empty_value_still_counts():
    assert check_mac_value({"A": "1", "B": ""}, **STAGE) != check_mac_value({"A": "1"}, **STAGE)


def test_the_check_mac_value_itself_is_left_out():
    params = {"A": "1"}

    signed = {**params, "CheckMacValue": "ANYTHING"}

    assert check_mac_value(signed, **STAGE) == check_mac_value(params, **STAGE)


def test_an_unknown_algorithm_is_refused():
    with pytest.raises(ValueError, match="sha1"):
        check_mac_value({"A": "1"}, algorithm="sha1", **STAGE)


def signed(params: dict[str, str]) -> dict[str, str]:
    return {**params, "CheckMacValue": check_mac_value(params, **STAGE)}


def test_matching_params_verify():
    assert check_mac_matches(signed({"A": "1", "B": "綠界 ~'@"}), **STAGE)


def test_a_changed_value_does_not_verify():
    params = signed({"TradeAmt": "100"})

    assert not check_mac_matches({**params, "TradeAmt": "1"}, **STAGE)


def test_an_added_field_does_not_verify():
    params = signed({"TradeAmt": "100"})

    assert not check_mac_matches({**params, "SimulatePaid": "1"}, **STAGE)


def test_params_signed_with_another_key_do_not_verify():
    params = signed({"A": "1"})

    assert not check_mac_matches(params, hash_key="another", hash_iv=STAGE_HASH_IV)


def test_params_without_a_check_mac_value_do_not_verify():
    assert not check_mac_matches({"A": "1"}, **STAGE)


def test_a_check_mac_value_with_non_ascii_characters_does_not_verify():
    assert not check_mac_matches({"A": "1", "CheckMacValue": "綠界"}, **STAGE)


def test_md5_params_verify_with_md5():
    params = {"A": "1"}
    params["CheckMacValue"] = check_mac_value(params, algorithm="md5", **STAGE)

    assert check_mac_matches(params, algorithm="md5", **STAGE)
    assert not check_mac_matches(params, **STAGE)


@pytest.mark.parametrize(
    ("hash_key", "hash_iv"), [("", ""), (STAGE_HASH_KEY, ""), ("", STAGE_HASH_IV)]
)
def test_signing_with_an_empty_hash_key_or_iv_raises(hash_key, hash_iv):
    with pytest.raises(MissingSecretError):
        check_mac_value({"A": "1"}, hash_key=hash_key, hash_iv=hash_iv)


def test_with_an_empty_hash_key_and_iv_nothing_verifies_not_even_what_they_sign():
    # What anybody can compute with no HashKey and no HashIV: "HashKey=&A=1&HashIV=", encoded.
    forged = {"A": "1", "CheckMacValue": sha256_of("hashkey%3d%26a%3d1%26hashiv%3d")}

    assert not check_mac_matches(forged, hash_key="", hash_iv="")
    assert not check_mac_matches(signed({"A": "1"}), hash_key=STAGE_HASH_KEY, hash_iv="")
    assert not check_mac_matches(signed({"A": "1"}), hash_key="", hash_iv=STAGE_HASH_IV)
