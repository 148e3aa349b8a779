"""The development simulator: `manage.py send_wallet_callback` signs and posts a callback."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from orders.models import OrderStatus, PaymentHeader
from payments.models import Payment, PaymentStatus
from tests.factories import OrderFactory
from tests.processes import free_port, manage, project_environment


def send(**options: object) -> str:
    out = StringIO()
    call_command("send_wallet_callback", stdout=out, **options)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("gateway", ["wallet", "bank-app"])
def test_the_command_pays_an_order_through_the_live_server(live_server, settings, gateway):
    settings.SITE_URL = live_server.url
    order = OrderFactory.create()

    out = send(gateway=gateway, order=order.number, amount="960.00", payment_id="S-1")

    sent, answer = out.strip().splitlines()
    assert sent == (
        f"POST {live_server.url}/callbacks/{gateway}/: {gateway} says order {order.number} "
        "paid 960.00, payment id S-1"
    )
    assert answer == '200 {"status": "accepted"}'
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert PaymentHeader.objects.get(order=order).gateway_payment_id == "S-1"


@pytest.mark.django_db(transaction=True)
def test_the_command_reports_a_failure(live_server, settings):
    settings.SITE_URL = live_server.url
    order = OrderFactory.create()

    out = send(order=order.number, amount="960", failure=True)

    sent, answer = out.strip().splitlines()
    assert f"says order {order.number} failed 960, payment id sim_" in sent
    assert answer.startswith("200 ")
    assert Payment.objects.get().status == PaymentStatus.FAILED


@pytest.mark.django_db(transaction=True)
def test_the_command_prints_a_refusal(live_server, settings):
    settings.SITE_URL = live_server.url

    out = send(order="999999999999", amount="960")

    answer = out.strip().splitlines()[-1]
    assert answer.startswith("404 ")
    assert "unknown_order" in answer


def test_the_command_refuses_to_run_without_simulators(settings):
    settings.SIMULATORS_ENABLED = False

    with pytest.raises(CommandError, match="SIMULATORS_ENABLED"):
        call_command("send_wallet_callback", order="1", amount="1")


def test_with_nothing_listening_the_command_says_so_in_one_line(settings):
    settings.SITE_URL = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(CommandError) as refused:
        send(order="1", amount="960")

    assert str(refused.value).startswith(f"Nothing answers at {settings.SITE_URL}/callbacks/")
    assert "\n" not in str(refused.value)


def test_in_development_the_site_url_follows_port():
    env = project_environment(DJANGO_DEBUG="true", PORT="8123")
    env.pop("SITE_URL", None)

    printed = manage(
        "shell", "-c", "from django.conf import settings; print(settings.SITE_URL)", env=env
    )

    assert printed.strip().splitlines()[-1] == "http://127.0.0.1:8123"
