"""An amount sent to the API is a string of ASCII digits with at most two after a point: the
schema's pattern and the API accept exactly the same strings."""

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rest_framework import serializers

from core.api import AMOUNT_PATTERN, AmountField


class Body(serializers.Serializer):
    amount = AmountField(min_value=Decimal("0.01"))


def accepted(value: object) -> bool:
    return Body(data={"amount": value}).is_valid()


@pytest.mark.parametrize(
    "value", [960, 9.6, Decimal("960"), True, None, "9.6e2", " 960 ", "０９６０", "-1", "", "960."]
)
def test_what_is_not_a_string_of_digits_is_refused(value):
    assert not accepted(value)


def test_a_json_number_is_told_to_be_a_string():
    body = Body(data={"amount": 960})
    body.is_valid()

    assert "a JSON number is not money" in str(body.errors["amount"][0])


@pytest.mark.parametrize("value", ["960", "960.00", "0.01", "999999999999.99"])
def test_digits_with_up_to_two_after_a_point_are_taken_exactly(value):
    body = Body(data={"amount": value})

    assert body.is_valid()
    assert body.validated_data["amount"] == Decimal(value)


@given(st.text(alphabet="0123456789.-+e ", max_size=18) | st.from_regex(AMOUNT_PATTERN))
def test_the_schema_pattern_and_the_field_agree_on_every_string(value):
    matches = re.fullmatch(AMOUNT_PATTERN, value) is not None
    positive = matches and Decimal(value) >= Decimal("0.01")

    assert accepted(value) == positive
