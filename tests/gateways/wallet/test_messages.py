"""Parsing a callback's JSON body into a WalletCallback."""

from decimal import Decimal

import pytest

from gateways.wallet import MalformedCallback, WalletCallback, parse_callback


def test_camel_case_fields_are_parsed_with_an_exact_amount():
    parsed = parse_callback(b'{"orderId": "1", "success": true, "paymentId": "p", "amount": 300.1}')

    assert parsed == WalletCallback(
        order_number="1", success=True, gateway_payment_id="p", amount=Decimal("300.1")
    )


def test_snake_case_fields_and_an_amount_as_digits_are_parsed():
    parsed = parse_callback(
        b'{"order_id": "1", "success": false, "payment_id": "p", "amount": "960.00"}'
    )

    assert parsed == WalletCallback(
        order_number="1", success=False, gateway_payment_id="p", amount=Decimal("960.00")
    )


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (b"not json", "body"),
        (b"[1, 2]", "body"),
        (b'{"success": true, "paymentId": "p", "amount": 1}', "orderId"),
        (b'{"orderId": "1", "success": true, "amount": 1}', "paymentId"),
        (b'{"orderId": "1", "success": "yes", "paymentId": "p", "amount": 1}', "success"),
        (b'{"orderId": "1", "success": true, "paymentId": "p", "amount": -5}', "amount"),
        (b'{"orderId": "1", "success": true, "paymentId": "p", "amount": 0}', "amount"),
        (b'{"orderId": "1", "success": true, "paymentId": "p", "amount": "ten"}', "amount"),
        (b'{"orderId": "1", "success": true, "paymentId": "p", "amount": "-5"}', "amount"),
        (b'{"orderId": "1", "success": true, "paymentId": "p", "amount": 1.001}', "amount"),
        (b'{"orderId": "1", "success": true, "paymentId": "p", "amount": true}', "amount"),
        (b'{"orderId": "1", "success": true, "paymentId": "p", "amount": 1e400}', "amount"),
        (b'{"orderId": "1", "success": true, "paymentId": "p"}', "amount"),
    ],
)
def test_malformed_bodies_name_the_field_at_fault(text, field):
    with pytest.raises(MalformedCallback) as raised:
        parse_callback(text)

    assert raised.value.field == field


def test_a_body_nested_deeper_than_the_parser_goes_is_malformed():
    with pytest.raises(MalformedCallback, match="Not valid JSON"):
        parse_callback(b"[" * 50_000 + b"]" * 50_000)
