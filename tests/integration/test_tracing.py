"""One trace per payment's journey (core/tracing.py): the API request on gunicorn, the Celery
tasks it queued on a worker process, and the worker's HTTP call to the card provider share a
trace; an ECPay notification's request and the drain that applies it share one too. Both
processes export over OTLP/HTTP to a collector stand-in of the test's; the worker's log lines
carry the trace id. A broker database of their own keeps the session's untraced worker away."""

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.conf import settings
from rest_framework.authtoken.models import Token

from payments.models import Payment, PaymentStatus
from tests.factories import OrderFactory, UserFactory, card_payment_body
from tests.integration.conftest import database_url
from tests.otlp import Collector, Span, otlp_collector
from tests.payments.test_ecpay_notification_drain import paid
from tests.payments.test_ecpay_notifications import start_payment
from tests.processes import PYTHON, free_port, gunicorn, project_environment, running, wait_for

pytestmark = pytest.mark.integration

SERVER, CLIENT = 2, 3  # OTLP's span kinds


@pytest.fixture(scope="module")
def traced(
    django_db_setup, card_simulator_url, tmp_path_factory
) -> Iterator[tuple[str, Collector, Path]]:
    """gunicorn and a worker, traced, on a broker database of their own; yields the app's URL,
    the collector and the worker's log."""
    folder = tmp_path_factory.mktemp("traced")
    broker = re.sub(r"/\d+$", "/13", settings.CELERY_BROKER_URL)
    with otlp_collector() as collector:
        common = {
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker,
            "CARD_PROVIDER_URL": card_simulator_url,
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
            # Export within a tenth of a second, not the default five.
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "DJANGO_LOG_FORMAT": "json",
        }
        port = free_port()
        web = project_environment(**common, OTEL_SERVICE_NAME="payments-web", PORT=str(port))
        worker = project_environment(
            **common, OTEL_SERVICE_NAME="payments-worker", OPERATION_SETTLE_AFTER_SECONDS="0"
        )
        log = folder / "worker.log"
        command = [PYTHON, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
                   "--concurrency", "2", "--without-mingle", "--without-gossip"]  # fmt: skip
        with (
            running(command, env=worker, log=log, ready=lambda: "ready." in _text(log)),
            gunicorn(
                "-c", "config/gunicorn.py", env=web, log=folder / "gunicorn.log", port=port
            ) as base,
        ):
            yield base, collector, log


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def spans_where(collector: Collector, trace_id: str, wanted, what: str) -> list[Span]:
    def found() -> bool:
        return any(wanted(span) for span in collector.trace(trace_id))

    wait_for(found, timeout=30, what=what)
    return [span for span in collector.trace(trace_id) if wanted(span)]


@pytest.mark.django_db(transaction=True)
def test_a_card_payment_is_one_trace_from_the_request_to_the_card_providers_http_call(traced):
    base, collector, worker_log = traced
    customer = UserFactory.create()
    token = Token.objects.create(user=customer)

    answer = requests.post(
        f"{base}/api/v1/payments/",
        json=card_payment_body(OrderFactory.create(user=customer)),
        headers={"Authorization": f"Token {token.key}"},
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    payment = Payment.objects.get(public_id=answer.json()["id"])
    wait_for(
        lambda: Payment.objects.get(pk=payment.pk).status == PaymentStatus.COMPLETED,
        timeout=60,
        what="the worker to complete the payment",
    )

    [request] = server_spans(collector, "api/v1/payments")
    trace = request.trace_id
    [charge] = spans_where(
        collector,
        trace,
        lambda span: span.kind == CLIENT and url(span).endswith("/charges"),
        "the card provider's charge call in the request's trace",
    )

    # The charge's ancestors: the task that ran it on the worker, its publication on the web
    # tier, the API request (a span is exported when it ends: the task's after the charge's).
    wait_for(lambda: request in ancestors(collector, charge), timeout=30, what="the task's span")
    chain = ancestors(collector, charge)
    assert [(span.service, span.name) for span in chain] == [
        ("payments-worker", "run/payments.tasks.payment_validate"),
        ("payments-web", "apply_async/payments.tasks.payment_validate"),
        ("payments-web", "POST api/v1/payments/"),
    ]
    assert chain[-1] == request
    assert charge.service == "payments-worker"
    # The worker's log lines of this payment carry the trace.
    lines = [json.loads(line) for line in _text(worker_log).splitlines() if line.startswith("{")]
    assert any(
        line.get("payment_id") == payment.pk and line.get("trace_id") == trace for line in lines
    )


def ancestors(collector: Collector, span: Span) -> list[Span]:
    """`span`'s parent, its parent's parent ... up to the trace's root."""
    by_id = {each.span_id: each for each in collector.trace(span.trace_id)}
    chain = []
    while span.parent_id and span.parent_id in by_id:
        span = by_id[span.parent_id]
        chain.append(span)
    return chain


def url(span: Span) -> str:
    return span.attributes.get("url.full") or span.attributes.get("http.url", "")


def server_spans(collector: Collector, route: str) -> list[Span]:
    """The web tier's latest request span whose route starts with `route`."""

    def found() -> list[Span]:
        return [
            span
            for span in collector.spans
            if span.kind == SERVER
            and span.service == "payments-web"
            and span.attributes.get("http.route", "").startswith(route)
        ]

    wait_for(lambda: bool(found()), timeout=30, what=f"a request span of {route}")
    return found()[-1:]


@pytest.mark.django_db(transaction=True)
def test_an_ecpay_notification_and_the_drain_that_applies_it_are_one_trace(traced):
    base, collector, _ = traced
    payment = start_payment()

    answer = requests.post(f"{base}/callbacks/ecpay/notify/", data=paid(payment), timeout=30)

    assert answer.text == "1|OK"
    [request] = server_spans(collector, "callbacks/ecpay")
    drained = spans_where(
        collector,
        request.trace_id,
        lambda span: span.service == "payments-worker" and "ecpay_notifications_drain" in span.name,
        "the drain in the notification's trace",
    )
    wait_for(
        lambda: request in ancestors(collector, drained[0]),
        timeout=30,
        what="the drain's link to the notification's request",
    )
    wait_for(
        lambda: Payment.objects.get(pk=payment.pk).status == PaymentStatus.COMPLETED,
        timeout=60,
        what="the drain to complete the payment",
    )
