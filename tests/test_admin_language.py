"""The back office follows the language switch: English or Traditional Chinese, for its own
pages (payment summary and actions, dashboard, two-factor sign-in, a customer's page) as for
Django's."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from payments.models import PaymentStatus
from tests.back_office import back_office_sign_in, manager, reviewer
from tests.factories import OrderFactory, PaymentFactory

pytestmark = pytest.mark.django_db


def in_chinese(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hant"
    return client


def test_the_sign_in_page_offers_both_languages_each_in_its_own_words(client):
    page = client.get("/admin/login/").content.decode()

    assert 'action="/i18n/setlang/"' in page
    assert ">English</button>" in page
    assert ">繁體中文</button>" in page


def test_switching_language_turns_the_back_office_chinese(client):
    back_office_sign_in(client, reviewer())

    switched = client.post("/i18n/setlang/", {"language": "zh-hant", "next": "/admin/"})

    assert switched["Location"] == "/admin/"
    home = client.get("/admin/").content.decode()
    assert "金流後台" in home


def test_a_payments_page_reads_in_chinese(client):
    payment = PaymentFactory.create(status=PaymentStatus.COMPLETED)
    back_office_sign_in(in_chinese(client), manager())

    page = client.get(reverse("admin:payments_payment_change", args=[payment.pk])).content.decode()

    for text in (
        "金額",
        "狀態",
        "已完成",
        "顧客",
        "餘額",
        "無需審查",
        "新增備註…",
        "時間軸",
        "所有欄位",
    ):
        assert text in page, text


def test_the_dashboard_reads_in_chinese_with_its_dates_as_chinese_writes_them(client):
    PaymentFactory.create(status=PaymentStatus.COMPLETED)
    back_office_sign_in(in_chinese(client), reviewer())

    page = client.get("/admin/dashboard/").content.decode()

    with translation.override("zh-hant"):
        today = date_format(timezone.localdate(), "MONTH_DAY_FORMAT")
    assert "月" in today
    for text in ("等待審查", "失敗率", "依狀態", "每日數字", f"{today}：1 筆付款", ">今天<"):
        assert text in page, text


def test_the_code_page_reads_in_chinese(client):
    user = manager()
    in_chinese(client).force_login(user)

    page = client.get("/admin/two-factor/").content.decode()

    assert "兩步驟登入" in page
    assert "manage.py two_factor_link" in page


def test_a_refusal_names_the_permission_in_chinese(client):
    payment = PaymentFactory.create(status=PaymentStatus.COMPLETED)
    back_office_sign_in(in_chinese(client), reviewer())

    refused = client.post(
        reverse("admin:payments_payment_changelist"),
        {"action": "refund", "_selected_action": [payment.pk], "index": "0"},
        follow=True,
    )

    messages = [str(message) for message in refused.context["messages"]]
    assert any("payments.refund_payment" in m and "您不能執行" in m for m in messages), messages


def test_the_records_names_and_their_columns_read_in_chinese(client):
    OrderFactory.create()
    back_office_sign_in(in_chinese(client), manager())

    home = client.get("/admin/").content.decode()
    orders = client.get("/admin/orders/order/").content.decode()

    for text in ("付款", "訂單", "金流回呼"):
        assert text in home, text
    for text in ("使用者", "總額", "建立時間"):
        assert text in orders, text
