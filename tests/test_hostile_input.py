"""Anything anyone can send, to every edge that takes a body: random bytes, content types,
signature headers and nesting, to the callbacks (nobody signs in) and to the API's JSON
endpoints (a signed-in customer). Whatever arrives, the answer is below 500 and no money moved:
no payment, ledger entry or order changed."""

import json

import pytest
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from orders.models import Order
from payments.models import LedgerEntry, Payment
from tests.factories import OrderFactory, UserFactory

EXAMPLES = hypothesis_settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

CALLBACKS = [
    "/callbacks/ecpay/notify/",
    "/callbacks/ecpay/payment-info/",
    "/callbacks/wallet/",
    "/callbacks/bank-app/",
]
JSON_ENDPOINTS = [
    "/api/v1/payments/",
    "/api/v1/wallet/deposits/",
    "/api/v1/wallet/withdrawals/",
    "/api/v1/orders/",
]

CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=latin-1",
            # Codecs Python knows that decode no text, a name it does not know, and UTF-7, in
            # which "+2AA-" is a lone surrogate.
            "application/json; charset=hex",
            "application/json; charset=nonsense",
            "application/json; charset=utf-7",
            "multipart/form-data; boundary=xyz; charset=zlib",
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=no-such-charset",
            "multipart/form-data",
            "multipart/form-data; boundary=xyz",
            "text/plain",
            "",
        ]
    ),
    st.text(max_size=60),
)


def _json_values(leaves: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=12), children, max_size=4)
        ),
        max_leaves=20,
    )


LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=30),
)
# The API's own field names, with any values: lone surrogates too ("\ud800" in the JSON text),
# which an error message echoing the input must still render.
API_FIELDS = ["kind", "order", "amount", "currency", "gateway", "method", "card", "items"]
LONE_SURROGATES = st.text(
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3
)
BODIES = st.one_of(
    st.binary(max_size=2048),
    _json_values(LEAVES).map(lambda value: json.dumps(value).encode()),
    st.dictionaries(st.sampled_from(API_FIELDS), st.one_of(LEAVES, LONE_SURROGATES)).map(
        lambda fields: json.dumps(fields).encode()
    ),
    st.integers(min_value=1, max_value=200_000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=8).map(
        lambda fields: "&".join(f"{key}={value}" for key, value in fields.items()).encode()
    ),
)
HEADER_TEXT = st.text(max_size=80).filter(lambda text: "\n" not in text and "\r" not in text)


def _money_state() -> tuple[object, ...]:
    return (
        list(Payment.objects.order_by("pk").values_list("pk", "status", "amount")),
        LedgerEntry.objects.count(),
        list(Order.objects.order_by("pk").values_list("pk", "status")),
    )


@pytest.mark.django_db
@pytest.mark.parametrize("url", CALLBACKS)
@EXAMPLES
@given(body=BODIES, content_type=CONTENT_TYPES, signature=HEADER_TEXT, timestamp=HEADER_TEXT)
def test_a_callback_endpoint_answers_anything_below_500_and_moves_no_money(
    url, body, content_type, signature, timestamp
):
    cache.clear()  # the unsigned-callback throttle would answer everything 429 after a while
    OrderFactory.create()
    before = _money_state()

    response = Client(raise_request_exception=False).generic(
        "POST",
        url,
        body,
        content_type=content_type,
        HTTP_X_SIGNATURE=signature,
        HTTP_X_TIMESTAMP=timestamp,
    )

    assert response.status_code < 500, response.content[:300]
    assert _money_state() == before


@pytest.mark.django_db
@pytest.mark.parametrize("url", JSON_ENDPOINTS)
@EXAMPLES
@given(body=BODIES, content_type=CONTENT_TYPES, key=HEADER_TEXT)
def test_a_json_endpoint_answers_anything_below_500_and_moves_no_money(
    url, api_client_for, body, content_type, key
):
    cache.clear()  # the API's throttle would answer everything 429 after a while
    customer = UserFactory.create()
    OrderFactory.create(user=customer)
    before = _money_state()
    client = api_client_for(customer)
    client.raise_request_exception = False

    response = client.generic(
        "POST", url, body, content_type=content_type, HTTP_IDEMPOTENCY_KEY=key
    )

    assert response.status_code < 500, response.content[:300]
    # Bad input changes nothing (random bytes are never a payment the customer may make).
    assert response.status_code >= 400
    assert _money_state() == before
