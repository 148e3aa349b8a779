"""The back office's dashboard (/admin/dashboard/): its numbers, who may see it, its cost."""

import html
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.formats import date_format

from accounts.roles import MANAGERS, REVIEWERS
from gateways.models import Gateway
from payments.admin.dashboard import dashboard_numbers
from payments.models import Payment, PaymentMethod, PaymentStatus
from tests.back_office import back_office_sign_in, staff_in
from tests.factories import PaymentFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/admin/dashboard/"


def payment(*, minutes_old: int = 0, **fields: object) -> Payment:
    made = PaymentFactory.create(**fields)
    if minutes_old:
        Payment.objects.filter(pk=made.pk).update(
            created_at=timezone.now() - timedelta(minutes=minutes_old)
        )
    return made


@pytest.fixture
def payments() -> dict[str, Payment]:
    """Today: two completed card payments, a failed ECPay one, one waiting for review. Earlier:
    a pending one stuck for 45 minutes, a completed USD one 10 days ago, one 40 days ago."""
    return {
        "completed": payment(status=PaymentStatus.COMPLETED, amount=Decimal("500.00")),
        "completed_too": payment(status=PaymentStatus.COMPLETED, amount=Decimal("250.50")),
        "failed": payment(
            status=PaymentStatus.FAILED,
            gateway=Gateway.ECPAY,
            method=PaymentMethod.ATM,
            amount=Decimal("1200.00"),
            needs_review=True,
        ),
        "stuck": payment(status=PaymentStatus.PENDING, minutes_old=45),
        "usd": payment(
            status=PaymentStatus.COMPLETED,
            amount=Decimal("20.00"),
            currency="USD",
            minutes_old=10 * 24 * 60,
        ),
        "old": payment(status=PaymentStatus.COMPLETED, minutes_old=40 * 24 * 60),
    }


def line(lines, key):
    return next(found for found in lines if found.key == key)


def test_the_numbers_count_and_sum_by_status_gateway_and_currency(payments):
    numbers = dashboard_numbers()

    today = numbers.today
    assert line(today.by_status, "completed").count == 2
    assert line(today.by_status, "completed").volumes == [("TWD", Decimal("750.50"))]
    assert line(today.by_gateway, "ecpay").volumes == [("TWD", Decimal("1200.00"))]
    assert today.failure_rate == Decimal("33.3")  # 1 failed of 3 ended

    month = numbers.last_30_days
    assert month.count == 5  # not the one from 40 days ago
    assert month.volumes == [("TWD", Decimal("2450.50")), ("USD", Decimal("20.00"))]
    assert month.completed_volumes == [("TWD", Decimal("750.50")), ("USD", Decimal("20.00"))]
    assert line(month.by_status, "pending").count == 1
    assert month.failure_rate == Decimal("25.0")  # 1 failed of 4 ended
    assert sum(day.total for day in numbers.days) == 5
    assert numbers.days[-1].day == timezone.localdate()
    assert numbers.days[-11].counts["completed"] == 1  # the USD one

    assert numbers.review_queue == 1
    assert [(stuck.status, stuck.count) for stuck in numbers.stuck] == [
        ("pending", 1),
        ("processing", 0),
    ]


def test_a_pending_payment_is_stuck_only_after_the_setting_says(payments, settings):
    settings.STUCK_PAYMENT_MINUTES = 60

    assert [stuck.count for stuck in dashboard_numbers().stuck] == [0, 0]


def test_with_nothing_ended_there_is_no_failure_rate():
    payment(status=PaymentStatus.PENDING)

    assert dashboard_numbers().today.failure_rate is None


def test_staff_who_may_view_payments_see_the_page_with_its_chart(client, payments):
    back_office_sign_in(client, StaffFactory.create())

    response = client.get(URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Payments dashboard" in page
    assert (
        "Last 30 days: 5 payments for 2450.50 TWD, 20.00 USD; completed: 750.50 TWD, 20.00 USD"
        in page
    )
    assert "33.3%" in page
    assert "<svg" in page
    assert "<script" not in page.split("<svg")[1].split("</svg>")[0]
    assert f"{date_format(timezone.localdate(), 'MONTH_DAY_FORMAT')}: 2 completed" in page
    assert 'id="review-queue"><a href="/admin/payments/payment/?needs_review__exact=1">1</a>' in (
        page
    )


@pytest.mark.parametrize("role", [REVIEWERS, MANAGERS])
def test_each_back_office_role_sees_the_dashboard_and_its_link(client, role):
    back_office_sign_in(client, staff_in(role))

    assert client.get(URL).status_code == 200
    assert 'href="/admin/dashboard/"' in client.get("/admin/").content.decode()


def test_staff_without_the_view_permission_are_refused(client):
    back_office_sign_in(client, UserFactory.create(is_staff=True))

    assert client.get(URL).status_code == 403
    assert 'href="/admin/dashboard/"' not in client.get("/admin/").content.decode()


def test_a_customer_is_sent_to_the_admin_sign_in(client, customer):
    back_office_sign_in(client, customer)

    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_stuck_link_filters_the_payment_list_to_the_stuck_payments(client, payments):
    back_office_sign_in(client, StaffFactory.create())
    page = client.get(URL).content.decode()
    link = page.split('id="stuck-pending">')[1].split('href="')[1].split('"')[0]
    path, query = html.unescape(link).split("?")

    # The admin's list applies its query string's lookups as they are: so does this.
    assert path == "/admin/payments/payment/"
    lookups = {name: values[0] for name, values in parse_qs(query).items()}
    assert list(Payment.objects.filter(**lookups)) == [payments["stuck"]]


def test_the_page_costs_the_same_queries_however_many_payments(client):
    back_office_sign_in(client, StaffFactory.create())
    payment(status=PaymentStatus.COMPLETED)
    client.get(URL)  # warm: the session and content types
    with CaptureQueriesContext(connection) as few:
        client.get(URL)

    for days_old in range(0, 30, 3):
        for status in PaymentStatus.values:
            payment(status=status, gateway=Gateway.ECPAY, minutes_old=days_old * 24 * 60 + 40)
    with CaptureQueriesContext(connection) as many:
        response = client.get(URL)

    assert response.status_code == 200
    assert len(many) == len(few)
    # The dashboard's own: the grouped counts, the review queue, the stuck payments.
    assert sum("payments_payment" in query["sql"] for query in many.captured_queries) == 3


def test_the_chart_shows_every_one_of_30_days_with_its_numbers_on_hover_and_in_a_table(
    client, payments
):
    back_office_sign_in(client, StaffFactory.create())

    page = client.get(URL).content.decode()
    chart = page.split('<div class="dashboard-chart">')[1].split("</svg>")[0]

    # A column for each day, an empty one too, whose title says its numbers.
    assert chart.count('class="chart-day"') == 30
    assert chart.count("no payments</title>") >= 28
    today = timezone.localdate()
    assert f"{date_format(today, 'MONTH_DAY_FORMAT')}: " in chart
    # Today's label ends inside the chart instead of being cut at its edge.
    assert 'text-anchor="end">today</text>' in chart
    numbers = page.split('id="chart-numbers"')[1].split("</details>")[0]
    assert numbers.count('scope="row"') == 30
    assert f'<th scope="row">{today:%Y-%m-%d}</th>' in numbers
