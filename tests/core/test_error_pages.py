"""The customers' error pages: in their language, saying what to do, never a debug page."""

import pytest
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("language", "heading"), [("en", "Page not found"), ("zh-hant", "找不到這個頁面")]
)
def test_a_page_nothing_serves_is_a_404_page_in_the_customers_language(language, heading):
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(UserFactory.create())

    response = client.get("/orders/nothing/here/")

    assert response.status_code == 404
    assert heading in response.content.decode()
    assert "Traceback" not in response.content.decode()


@pytest.mark.parametrize(
    ("language", "heading"),
    [("en", "Something went wrong on our side"), ("zh-hant", "我們這邊出了點問題")],
)
def test_a_crash_on_a_customer_page_is_a_500_page_saying_to_check_the_order(
    monkeypatch, language, heading
):
    def crash(*args, **kwargs):
        raise RuntimeError("the secret detail of a bug")

    monkeypatch.setattr("payments.checkout.views.customer_orders", crash)
    client = Client(HTTP_ACCEPT_LANGUAGE=language, raise_request_exception=False)
    client.force_login(UserFactory.create())

    response = client.get("/orders/")

    page = response.content.decode()
    assert response.status_code == 500
    assert heading in page
    assert "secret detail" not in page
