"""The broker goes down while payments are being made, and comes back."""

import json
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.authtoken.models import Token

from orders.models import OrderStatus
from payments.models import Payment, PaymentStatus
from payments.tasks import payments_resume_stranded
from tests.factories import OrderFactory, UserFactory, card_payment_body
from tests.integration.conftest import database_url, emails_to
from tests.processes import gunicorn, project_environment, wait_for
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration


@pytest.fixture
def broker_proxy() -> Iterator[TcpProxy]:
    """The web server's way to Redis: cut it and only the web server loses its broker."""
    redis_url = settings.CELERY_BROKER_URL
    host, port = redis_url.split("//", 1)[1].split("/", 1)[0].split(":")
    proxy = TcpProxy(upstream=(host, int(port)))
    proxy.restore()
    yield proxy
    proxy.cut()


@pytest.fixture
def web_server(real_worker, broker_proxy, card_provider, tmp_path: Path):
    """The API in a gunicorn process of its own, queueing tasks through `broker_proxy`."""
    database = settings.CELERY_BROKER_URL.rsplit("/", 1)[1]
    log = tmp_path / "web.log"
    env = project_environment(
        DATABASE_URL=database_url(),
        CELERY_BROKER_URL=f"redis://127.0.0.1:{broker_proxy.port}/{database}",
        CARD_PROVIDER_URL=card_provider,
    )
    with gunicorn("--workers", "1", env=env, log=log) as base:
        yield base, log


def pay_by_card(base: str, token: str, order) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{base}/api/v1/payments/",
        data=json.dumps(card_payment_body(order)).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read())


def test_a_payment_made_while_the_broker_is_down_is_recorded_and_completed_once_it_is_back(
    web_server, broker_proxy, worker_folder
):
    """Injects: the web server's connection to the broker (Redis) is cut while a customer pays
    by card; the worker keeps its own. Must hold: the API still answers 202 with the payment
    recorded (pending, nothing queued) and says in its log that it could not queue it; once the
    broker is back, payments are queued again at once, and the stranded one is picked up by the
    stranded-payment sweep: completed, charged once, the customer told once."""
    base, log = web_server
    customer = UserFactory.create()
    token = Token.objects.create(user=customer).key
    first, second = OrderFactory.create(user=customer), OrderFactory.create(user=customer)

    broker_proxy.cut()
    status, body = pay_by_card(base, token, first)

    assert status == 202
    stranded = Payment.objects.get(public_id=body["id"])
    assert stranded.status == PaymentStatus.PENDING
    assert "broker unavailable" in log.read_text()

    broker_proxy.restore()
    status, body = pay_by_card(base, token, second)
    assert status == 202
    queued = Payment.objects.get(public_id=body["id"])
    wait_for(
        lambda: Payment.objects.get(pk=queued.pk).status == PaymentStatus.COMPLETED,
        timeout=60,
        what="the payment made after the broker came back",
    )
    assert Payment.objects.get(pk=stranded.pk).status == PaymentStatus.PENDING

    # Beat runs the sweep every minute; here it runs once the payment has waited long enough.
    waited = timezone.now() - timedelta(seconds=settings.PIPELINE_STRANDED_AFTER_SECONDS + 1)
    Payment.objects.filter(pk=stranded.pk).update(created_at=waited, updated_at=waited)
    assert payments_resume_stranded() == 1
    wait_for(
        lambda: Payment.objects.get(pk=stranded.pk).status == PaymentStatus.COMPLETED,
        timeout=60,
        what="the stranded payment to complete",
    )

    stranded.refresh_from_db()
    assert stranded.attempts == 1
    assert stranded.operations.count() == 1
    assert stranded.order.status == OrderStatus.PAID
    wait_for(
        lambda: stranded.events.filter(type="notified_completed").exists(),
        timeout=30,
        what="the customer to be told",
    )
    assert emails_to(worker_folder, customer.email) == 2
    assert payments_resume_stranded() == 0
