"""manage.py fuzz_fixtures: the customer bin/fuzz-api fuzzes the API as."""

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from rest_framework.test import APIClient

from orders.models import Order, OrderStatus
from payments.models import Payment

pytestmark = pytest.mark.django_db


def fuzz_fixtures(capsys: pytest.CaptureFixture[str]) -> str:
    call_command("fuzz_fixtures")
    return capsys.readouterr().out.strip()


def test_it_prints_only_a_token_that_signs_in_a_customer_with_orders_and_payments(capsys):
    token = fuzz_fixtures(capsys)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    me = client.get("/api/v1/me/").json()
    payments = client.get("/api/v1/payments/").json()["results"]

    assert (me["email"], me["is_staff"]) == ("fuzz-customer@example.com", False)
    assert Order.objects.filter(status=OrderStatus.PENDING_PAYMENT).count() == 3
    by_kind = {payment["kind"]: payment for payment in payments}
    assert by_kind["deposit"]["order"] is None
    assert by_kind["deposit"]["card"]["last4"] == "4242"
    assert by_kind["order"]["next_action"]["type"] == "redirect_to_url"


def test_it_runs_again_with_the_same_token_and_nothing_duplicated(capsys):
    first = fuzz_fixtures(capsys)

    assert fuzz_fixtures(capsys) == first
    assert (Order.objects.count(), Payment.objects.count()) == (3, 2)


@override_settings(SIMULATORS_ENABLED=False)
def test_it_refuses_where_the_simulators_are_off():
    with pytest.raises(CommandError, match="throwaway databases only"):
        call_command("fuzz_fixtures")
    assert not Order.objects.exists()
