"""Every API error has one body shape, {code, message, fields}, whatever went wrong."""

import json

import pytest
from django.http import HttpResponseForbidden
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.throttling import UserRateThrottle

from core.api import exception_handler
from core.views import ApiErrorShape
from payments.models import Payment
from tests.factories import OrderFactory, UserFactory

pytestmark = pytest.mark.django_db


def assert_error_shape(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code
    assert body["message"]


def test_a_path_nothing_serves_under_the_api_is_a_404_in_the_error_shape(customer, api_client_for):
    assert_error_shape(api_client_for(customer).get("/api/v1/nothing-here/"), 404, "not_found")


def test_a_path_nothing_serves_outside_the_api_is_djangos_page(client):
    response = client.get("/nothing-here/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_with_debug_on_a_path_nothing_serves_under_the_api_is_still_json(
    customer, api_client_for, settings
):
    settings.DEBUG = True
    response = api_client_for(customer).get("/api/v1/nothing-here/")

    assert_error_shape(response, 404, "not_found")


@pytest.mark.parametrize("debug", [True, False])
def test_a_crash_under_the_api_is_a_500_in_the_error_shape_saying_nothing_of_it(
    customer, api_client_for, settings, monkeypatch, debug
):
    settings.DEBUG = debug

    def crash(*args, **kwargs):
        raise RuntimeError("the secret detail of a bug")

    monkeypatch.setattr("payments.api.me.MeView.get", crash)
    client = api_client_for(customer)
    client.raise_request_exception = False
    response = client.get("/api/v1/me/")

    assert_error_shape(response, 500, "server_error")
    assert b"secret detail" not in response.content


def test_a_method_a_resource_does_not_take_is_a_405(customer, api_client_for):
    response = api_client_for(customer).delete("/api/v1/wallet/")
    assert_error_shape(response, 405, "method_not_allowed")


def test_a_body_that_is_not_json_is_a_415(customer, api_client_for):
    response = api_client_for(customer).post(
        "/api/v1/wallet/withdrawals/", "amount=1", content_type="application/x-www-form-urlencoded"
    )
    assert_error_shape(response, 415, "unsupported_media_type")


def test_broken_json_is_a_400(customer, api_client_for):
    response = api_client_for(customer).post(
        "/api/v1/wallet/withdrawals/", '{"amount": ', content_type="application/json"
    )
    assert_error_shape(response, 400, "parse_error")


@pytest.mark.django_db
def test_json_nested_deeper_than_the_parser_goes_is_a_400(customer, api_client_for):
    nested = "[" * 50_000 + "]" * 50_000
    for path in ("/api/v1/payments/", "/api/v1/wallet/withdrawals/", "/api/v1/wallet/deposits/"):
        response = api_client_for(customer).post(path, nested, content_type="application/json")

        assert response.status_code == 400, path
        assert response.json()["code"] == "parse_error"


def test_a_caller_over_their_rate_is_told_to_wait_with_a_429(customer, api_client_for, monkeypatch):
    # The class keeps the rates it was created with; the test narrows this one for a moment.
    monkeypatch.setitem(UserRateThrottle.THROTTLE_RATES, "user", "3/min")
    client = api_client_for(customer)

    answers = [client.get("/api/v1/me/").status_code for _ in range(3)]
    limited = client.get("/api/v1/me/")

    assert answers == [200, 200, 200]
    assert_error_shape(limited, 429, "throttled")
    assert int(limited["Retry-After"]) > 0


def test_callers_are_throttled_each_on_their_own(api_client_for, monkeypatch):
    monkeypatch.setitem(UserRateThrottle.THROTTLE_RATES, "user", "1/min")
    first, second = UserFactory.create(), UserFactory.create()

    assert api_client_for(first).get("/api/v1/me/").status_code == 200
    assert api_client_for(first).get("/api/v1/me/").status_code == 429
    assert api_client_for(second).get("/api/v1/me/").status_code == 200


# An error message may echo what the caller sent, and a JSON string may hold a lone surrogate
# ("\ud800" in the JSON text), which UTF-8 cannot encode: the 400 still renders, the surrogate
# shown escaped.
LONE_SURROGATE = '"\\ud800"'
DEPOSIT = {"kind": "deposit", "amount": "100", "currency": "TWD", "gateway": "ecpay"}


@pytest.mark.parametrize("field", ["kind", "currency", "gateway", "method"])
def test_a_lone_surrogate_for_a_choice_is_a_400_echoing_it_escaped(customer, api_client_for, field):
    body = json.dumps({**DEPOSIT, field: "x"}).replace('"x"', LONE_SURROGATE)
    client = api_client_for(customer)
    client.raise_request_exception = False

    response = client.post("/api/v1/payments/", body, content_type="application/json")

    assert_error_shape(response, 400, "invalid")
    assert response.json()["fields"][field] == ['"\\ud800" is not a valid choice.']
    assert not Payment.objects.exists()


def test_a_lone_surrogate_in_a_text_field_is_a_400(customer, api_client_for):
    order = OrderFactory.create(user=customer)
    body = json.dumps({**DEPOSIT, "kind": "order", "order": "x", "amount": str(order.total)})
    client = api_client_for(customer)

    response = client.post(
        "/api/v1/payments/", body.replace('"x"', LONE_SURROGATE), content_type="application/json"
    )

    assert_error_shape(response, 400, "invalid")
    assert response.json()["fields"]["order"] == ["Surrogate characters are not allowed: U+D800."]


def test_a_lone_surrogate_in_a_parameter_a_list_does_not_take_is_a_400_naming_it(
    customer, api_client_for
):
    # A query string is read in the Content-Type's charset, and UTF-7's "+2AA-" is U+D800.
    client = api_client_for(customer)
    client.raise_request_exception = False

    response = client.generic(
        "GET", "/api/v1/payments/?+2AA-=1", content_type="application/json; charset=utf-7"
    )

    assert_error_shape(response, 400, "invalid")
    assert list(response.json()["fields"]) == ["\\ud800"]


def test_any_error_echoing_an_unencodable_character_renders():
    error = exceptions.ValidationError({"note\ud800": ["Not \ud800."]})

    response = exception_handler(error, {})

    assert json.loads(JSONRenderer().render(response.data))["fields"] == {
        "note\\ud800": ["Not \\ud800."]
    }


# A body larger than DATA_UPLOAD_MAX_MEMORY_SIZE, which Django refuses to read.
TOO_LARGE = json.dumps({**DEPOSIT, "padding": "x" * 3_000_000})


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("headers", [{}, {"HTTP_IDEMPOTENCY_KEY": "k-1"}])
def test_a_body_too_large_is_a_413_in_the_error_shape(
    customer, api_client_for, settings, debug, headers
):
    settings.DEBUG = debug
    client = api_client_for(customer)
    client.raise_request_exception = False

    response = client.post(
        "/api/v1/payments/", TOO_LARGE, content_type="application/json", **headers
    )

    assert_error_shape(response, 413, "request_too_large")
    assert str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) in response.json()["message"]
    assert not Payment.objects.exists()


def test_a_form_too_large_for_a_page_is_still_the_400_page(client):
    response = client.post(
        "/accounts/login/", {"username": "a@example.com", "password": "x" * 3_000_000}
    )

    assert response.status_code == 400
    assert "This request could not be read" in response.content.decode()


@pytest.mark.parametrize("debug", [False, True])
def test_a_request_django_refuses_under_the_api_is_a_400_in_the_error_shape(
    customer, api_client_for, settings, debug
):
    settings.DEBUG = debug
    client = api_client_for(customer)
    client.raise_request_exception = False

    response = client.get("/api/v1/me/", HTTP_HOST="not-ours.example")

    assert_error_shape(response, 400, "bad_request")


def test_a_refusal_django_answers_under_the_api_is_a_403_in_the_error_shape(rf):
    def django_refuses(request):
        return HttpResponseForbidden("<h1>403 Forbidden</h1>")

    response = ApiErrorShape(django_refuses)(rf.post("/api/v1/payments/"))

    body = json.loads(response.content)
    assert response.status_code == 403
    assert (set(body), body["code"]) == ({"code", "message", "fields"}, "permission_denied")
