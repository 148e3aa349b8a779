"""The customers' error pages: in their language, saying what to do, never a debug page."""

import pytest
from django.conf import settings
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


def test_every_answer_carries_a_policy_that_runs_nothing_inline(client):
    policy = client.get("/accounts/login/")["Content-Security-Policy"]

    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy


def test_no_page_template_holds_an_inline_script_or_style():
    """The policy refuses them: a template that brings one back breaks in the browser."""
    from pathlib import Path

    from django.conf import settings

    inline = []
    for template in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        if template.parts[-2] == "notifications":
            continue  # emails: no browser policy applies, and mail clients want inline style
        text = template.read_text()
        if "<style" in text or ' style="' in text or "<script>" in text:
            inline.append(str(template))

    assert inline == []


def test_the_favicon_is_where_browsers_ask_for_it(client):
    asked = client.get("/favicon.ico")

    assert asked.status_code == 301
    assert asked["Location"].endswith(".svg")
    assert (settings.BASE_DIR / "static" / "favicon.svg").is_file()
    assert 'rel="icon"' in client.get("/accounts/login/").content.decode()
    assert 'rel="icon"' in client.get("/admin/login/").content.decode()
