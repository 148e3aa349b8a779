"""Every API error has one body shape, {code, message, fields}, whatever went wrong."""

import pytest
from rest_framework.throttling import UserRateThrottle

from tests.factories import UserFactory

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
