"""The callbacks as DRF views: the gateway's own answer whatever the caller accepts, out of the
API's schema, and DRF's throttling available to them (off unless CALLBACK_THROTTLE_RATE is set)."""

from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from gateways.models import GatewayCallback
from tests.payments.test_ecpay_notifications import (
    deliver,
    paid_notification,
    signed,
    start_payment,
)

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


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "content_type", "limit"),
    [
        (NOTIFY, "application/x-www-form-urlencoded", 32 * 1024),
        ("/callbacks/wallet/", "application/json", 8 * 1024),
        ("/callbacks/bank-app/", "application/json", 8 * 1024),
    ],
)
def test_a_body_larger_than_the_gateway_ever_sends_is_a_413_and_not_stored(
    client, url, content_type, limit
):
    fits = client.post(url, "a=" + "x" * (limit - 2), content_type=content_type)
    too_large = client.post(url, "a=" + "x" * (limit - 1), content_type=content_type)

    assert fits.status_code != 413
    assert too_large.status_code == 413
    if url == NOTIFY:
        assert too_large.content.decode().startswith("0|")
    else:
        assert too_large.json()["code"] == "request_too_large"
    assert GatewayCallback.objects.count() == 1


@pytest.mark.django_db
def test_an_address_past_its_unsigned_callbacks_is_refused_before_anything_is_stored(
    client, callback_rate
):
    callback_rate(None)
    forged = [
        client.post("/callbacks/wallet/", b"{}", content_type="application/json") for _ in range(61)
    ]

    assert [answer.status_code for answer in forged[:60]] == [401] * 60
    assert forged[60].status_code == 429
    assert "Retry-After" in forged[60]
    assert GatewayCallback.objects.count() == 60
    # Another address is not held back by this one's junk.
    other = client.post(
        "/callbacks/wallet/", b"{}", content_type="application/json", REMOTE_ADDR="198.51.100.7"
    )
    assert other.status_code == 401


@pytest.mark.django_db
def test_a_forwarded_for_header_does_not_pick_a_new_address_unless_a_proxy_is_trusted(
    client, callback_rate
):
    callback_rate(None)
    for number in range(60):
        client.post(
            "/callbacks/wallet/",
            b"{}",
            content_type="application/json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{number}",
        )

    spoofed = client.post(
        "/callbacks/wallet/", b"{}", content_type="application/json", HTTP_X_FORWARDED_FOR="1.2.3.4"
    )

    assert spoofed.status_code == 429


@pytest.mark.django_db
def test_signed_notifications_never_count_against_their_address(client, callback_rate):
    callback_rate(None)
    payment = start_payment()
    for _ in range(59):
        client.post(NOTIFY, "a=1", content_type="application/x-www-form-urlencoded")

    signed_answers = {deliver(client, signed(paid_notification(payment))) for _ in range(5)}
    last_allowed = client.post(NOTIFY, "a=1", content_type="application/x-www-form-urlencoded")
    refused = client.post(NOTIFY, "a=1", content_type="application/x-www-form-urlencoded")

    assert signed_answers == {"1|OK"}
    assert last_allowed.status_code == 200
    assert refused.status_code == 429
    # Past its rate for unsigned ones, the address's signed notifications still go through.
    assert deliver(client, signed(paid_notification(payment))) == "1|OK"
