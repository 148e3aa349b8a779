"""The callbacks as DRF views: the gateway's own answer whatever the caller accepts, out of the
API's schema, and DRF's throttling available to them (off unless CALLBACK_THROTTLE_RATE is set)."""

from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from gateways.models import GatewayCallback

NOTIFY = "/callbacks/ecpay/notify/"


@pytest.fixture
def callback_rate(monkeypatch: pytest.MonkeyPatch):
    """Set the callbacks' throttle rate for one test, with a fresh count."""

    def set_rate(rate: str | None) -> None:
        rates = {**api_settings.DEFAULT_THROTTLE_RATES, "callbacks": rate}
        monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", rates)
        cache.clear()

    yield set_rate
    cache.clear()


@pytest.mark.django_db
def test_ecpay_is_answered_in_plain_text_whatever_the_caller_accepts(client):
    response = client.post(
        NOTIFY,
        urlencode({"hello": "world"}),
        content_type="application/x-www-form-urlencoded",
        HTTP_ACCEPT="application/json",
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode().startswith("0|")


@pytest.mark.django_db
def test_a_method_ecpay_never_uses_is_refused_in_ecpays_own_answer(client):
    response = client.put(NOTIFY, "x=1", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 405
    assert response.content.decode().startswith("0|")
    assert not GatewayCallback.objects.exists()


@pytest.mark.django_db
def test_a_body_that_is_not_a_form_is_stored_then_refused(client):
    response = client.post(NOTIFY, '{"MerchantTradeNo": "x"}', content_type="application/json")

    assert response.status_code == 200
    assert response.content.decode().startswith("0|")
    assert GatewayCallback.objects.get().body == '{"MerchantTradeNo": "x"}'


@pytest.mark.django_db
def test_a_wallet_callback_is_answered_in_json_whatever_the_caller_accepts(client):
    response = client.post(
        "/callbacks/wallet/", b"{}", content_type="application/json", HTTP_ACCEPT="text/html"
    )

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "bad_signature"


@pytest.mark.django_db
def test_callbacks_are_not_throttled_by_default(client, callback_rate):
    callback_rate(None)
    answers = {
        client.post(NOTIFY, "a=1", content_type="application/x-www-form-urlencoded").status_code
        for _ in range(40)
    }

    assert answers == {200}


@pytest.mark.django_db
def test_with_a_rate_set_a_caller_past_it_is_throttled_and_ecpay_told_to_come_back(
    client, callback_rate
):
    callback_rate("2/min")
    answers = [
        client.post(NOTIFY, "a=1", content_type="application/x-www-form-urlencoded")
        for _ in range(3)
    ]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[2].content.decode().startswith("0|")
    assert "Retry-After" in answers[2]
    # The refused delivery changed nothing: ECPay delivers it again later.
    assert GatewayCallback.objects.count() == 2


@pytest.mark.django_db
def test_the_callbacks_are_not_in_the_apis_schema(client):
    schema = client.get("/api/schema/?format=json").json()

    assert not [path for path in schema["paths"] if path.startswith("/callbacks/")]


@pytest.mark.django_db
def test_an_ecpay_notification_posted_as_multipart_is_stored_then_refused(client):
    response = client.post(NOTIFY, {"MerchantTradeNo": "X", "RtnCode": "1"})

    assert response.status_code == 200
    assert response.content.decode().startswith("0|")
    callback = GatewayCallback.objects.get()
    assert 'name="MerchantTradeNo"' in callback.body
    assert callback.outcome == "rejected"


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/callbacks/wallet/", "/callbacks/bank-app/"])
def test_a_wallet_signature_that_is_not_ascii_is_a_401_and_settled(client, url):
    response = client.post(
        url, b"{}", content_type="application/json", HTTP_X_SIGNATURE="\xe9", HTTP_X_TIMESTAMP="1"
    )

    assert response.status_code == 401
    assert response.json()["code"] == "bad_signature"
    assert GatewayCallback.objects.get().outcome == "rejected"
