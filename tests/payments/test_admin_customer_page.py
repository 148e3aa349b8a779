"""A customer's page for staff: balance, payments, orders and sign-in lockouts in one place, each
part shown to a role that may see it."""

from decimal import Decimal

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.services import user_grant_permission
from payments.models import PaymentStatus
from tests.back_office import back_office_sign_in, manager, reviewer
from tests.factories import OrderFactory, PaymentFactory, UserFactory

pytestmark = pytest.mark.django_db


def customer_page(client: Client, customer) -> str:
    response = client.get(reverse("admin:accounts_user_change", args=[customer.pk]))
    assert response.status_code == 200
    return str(response.content.decode())


def overview(page: str) -> str:
    return page.split('class="customer-overview"')[1].split("</section>")[0]


def test_a_reviewer_sees_a_customers_balance_payments_orders_and_lockouts(client, settings):
    settings.AXES_FAILURE_LIMIT = 5
    customer = UserFactory.create(email="tea.lover@example.com")
    order = OrderFactory.create(user=customer)
    paid = PaymentFactory.create(
        user=customer, amount=Decimal("960"), status=PaymentStatus.COMPLETED, needs_review=True
    )
    someone_elses = PaymentFactory.create()
    AccessAttempt.objects.create(
        username=customer.email,
        ip_address="203.0.113.5",
        failures_since_start=5,
        attempt_time=timezone.now(),
        user_agent="",
        http_accept="",
        path_info="/accounts/login/",
        get_data="",
        post_data="",
    )
    back_office_sign_in(client, reviewer())

    shown = overview(customer_page(client, customer))

    assert f"{customer.balance:,} {customer.balance_currency}" in shown
    assert paid.public_id in shown
    assert reverse("admin:payments_payment_change", args=[paid.pk]) in shown
    assert "needs review" in shown
    assert someone_elses.public_id not in shown
    assert order.number in shown
    assert "/admin/payments/payment/?q=tea.lover%40example.com" in shown
    assert "203.0.113.5" in shown
    assert "badge-failed" in shown  # locked out now


def test_each_part_needs_its_own_view_permission(client):
    customer = UserFactory.create()
    PaymentFactory.create(user=customer)
    # May see users and payments, not orders or lockouts.
    staff = UserFactory.create(is_staff=True)
    user_grant_permission(user=staff, permission="accounts.view_user")
    user_grant_permission(user=staff, permission="payments.view_payment")
    back_office_sign_in(client, staff)

    shown = overview(customer_page(client, customer))

    assert 'id="customer-payments"' in shown
    assert 'id="customer-orders"' not in shown
    assert 'id="customer-lockouts"' not in shown


def test_a_managers_page_says_whether_two_factor_sign_in_is_on():
    staff = manager()
    client = Client()
    back_office_sign_in(client, manager())

    assert "needed and not set up" in overview(customer_page(client, staff))
    back_office_sign_in(Client(), staff)  # sets up their authenticator
    assert "on (0 recovery codes left)" in overview(customer_page(client, staff))
