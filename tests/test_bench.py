"""The benchmark's harness (bench/) still works: its ceiling endpoints, the notifications it
signs, and how it reads wrk. No timing here: `make bench` measures; these keep it from rotting."""

import argparse
import subprocess
import sys
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from bench import tasks as bench_tasks
from bench.ceilings import CeilingPaymentSerializer
from bench.cpu import cpu_spent, describe, role_of
from bench.data import ecpay_paid_body
from bench.run import PIPELINE_ORCHESTRATION_TARGET, _cpu_row, parse_sections, side_by_side
from bench.stack import Load, parse_wrk, wrk
from payments.models import Payment, PaymentStatus
from payments.tasks import ecpay_notifications_drain, payment_validate
from tests.payments.test_ecpay_notifications import start_deposit

ECPAY_DEPOSIT = {"kind": "deposit", "amount": "500", "currency": "TWD", "gateway": "ecpay"}

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:8000/
  2 threads and 8 connections
  Latency Distribution
     50%    9.12ms
     75%   12.00ms
     90%   20.00ms
     99%    1.20s
  5000 requests in 10.00s, 1.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 3
Requests/sec:    500.10
"""


@pytest.mark.django_db
def test_the_ceiling_endpoints_are_not_routed_by_default(client):
    assert client.post("/bench/payments/").status_code == 404
    assert client.post("/bench/locked-update/").status_code == 404


@pytest.mark.django_db
@pytest.mark.urls("bench.urls")
def test_the_create_ceiling_inserts_one_payment_for_the_caller(customer, api_client_for):
    response = api_client_for(customer).post(
        "/payments/", {**ECPAY_DEPOSIT, "method": "card"}, format="json"
    )

    assert response.status_code == 201
    payment = Payment.objects.get()
    assert (payment.public_id, payment.user, payment.amount) == (
        response.json()["id"],
        customer,
        Decimal("500.00"),
    )


@pytest.mark.django_db
@pytest.mark.urls("bench.urls")
def test_the_create_ceiling_validates_its_body(customer, api_client_for):
    response = api_client_for(customer).post("/payments/", {"kind": "deposit"}, format="json")

    assert response.status_code == 400
    assert not Payment.objects.exists()
    assert set(CeilingPaymentSerializer().fields) == {*ECPAY_DEPOSIT, "method"}


@pytest.mark.django_db
@pytest.mark.urls("bench.urls")
def test_the_locked_update_ceiling_updates_the_payment_it_names(customer):
    payment = start_deposit(user=customer)

    response = Client().post(
        "/locked-update/",
        urlencode({"MerchantTradeNo": payment.merchant_trade_no}),
        content_type="application/x-www-form-urlencoded",
    )

    assert (response.status_code, response.content) == (200, b"1|OK")
    payment.refresh_from_db()
    assert payment.attempts == 1


@pytest.mark.django_db
def test_the_notifications_the_benchmark_signs_are_accepted(
    customer, client, django_capture_on_commit_callbacks
):
    payment = start_deposit(user=customer)
    body = ecpay_paid_body(payment.merchant_trade_no or "", payment.public_id, 7, timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/callbacks/ecpay/notify/", body, content_type="application/x-www-form-urlencoded"
        )

    assert response.content == b"1|OK"
    payment.refresh_from_db()
    assert payment.status in (PaymentStatus.PROCESSING, PaymentStatus.COMPLETED)


def test_wrk_output_is_read_in_milliseconds_with_every_error_counted():
    load = parse_wrk(WRK_OUTPUT)

    assert (load.requests_per_second, load.p50_ms, load.p99_ms, load.errors) == (
        500.10,
        9.12,
        1200.0,
        6,
    )


def test_wrk_is_never_pointed_anywhere_but_loopback():
    with pytest.raises(ValueError, match="loopback only"):
        wrk("http://example.com/")


def test_the_cpu_each_process_spends_is_told_apart_by_its_command_line():
    assert [
        role_of(command)
        for command in (
            "python -m gunicorn --worker-class gthread --threads 16 config.wsgi",
            "python -m gunicorn --worker-class sync --workers 4 config.wsgi",
            "python -m celery -A config worker --pool prefork",
            "/usr/sbin/mariadbd",
            "redis-server 127.0.0.1:6379",
            "wrk -t2 -c8 http://127.0.0.1:8000/",
        )
    ] == ["simulator", "web", "worker", "mariadb", "redis", None]


def test_the_cpu_a_phase_spends_is_measured_per_item_busiest_first():
    # A process the command line makes a "worker" does a fixed amount of work, says so, and
    # waits to be read: what a process spent is gone with it once it ends.
    script = "sum(range(30_000_000)); print('done', flush=True); input()"
    with cpu_spent() as spent:
        burner = subprocess.Popen(
            [sys.executable, "-c", script, "celery"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert burner.stdout is not None
        assert burner.stdout.readline() == "done\n"
    burner.communicate("\n")

    assert spent["worker"] > 0.1
    assert describe({"worker": 0.3, "mariadb": 0.1, "redis": 0.0}, per=100) == (
        "worker 3.0, mariadb 1.0 (total 4.0 ms)"
    )


def test_a_phase_can_count_the_benchmark_s_own_process_under_a_role():
    with cpu_spent(this_process_as="steps") as spent:
        sum(range(30_000_000))

    assert spent["steps"] > 0.1


def test_a_ceiling_and_its_product_are_loaded_in_turns_and_each_side_s_runs_combined():
    order: list[tuple[str, int]] = []

    def loader(side: str, rate: float, p99: float):
        def load(seconds: int) -> Load:
            order.append((side, seconds))
            return Load(requests_per_second=rate, p99_ms=p99, p50_ms=1.0, errors=0)

        return load

    rates = iter([100.0, 300.0])  # the ceiling's two runs: the machine sped up between them
    ceiling, product = side_by_side(
        lambda seconds: loader("ceiling", next(rates), 20.0)(seconds),
        loader("product", 150.0, 40.0),
        seconds=10,
    )

    assert order == [("ceiling", 5), ("product", 5), ("product", 5), ("ceiling", 5)]
    (ceiling_load, _, ceiling_requests), (product_load, _, product_requests) = ceiling, product
    assert (ceiling_load.requests_per_second, ceiling_requests) == (200.0, 2000)
    assert (product_load.requests_per_second, product_load.p99_ms, product_requests) == (
        150.0,
        40.0,
        1500,
    )


def test_the_benchmark_runs_only_the_sections_asked_for():
    assert parse_sections("pipeline, notification") == ("pipeline", "notification")
    with pytest.raises(argparse.ArgumentTypeError):
        parse_sections("pipeline,everything")


def test_the_benchmark_s_worker_counts_the_drains_it_runs_and_no_other_task(monkeypatch):
    counted: list[str] = []
    monkeypatch.setattr(bench_tasks, "_redis", lambda: SimpleNamespace(incr=counted.append))

    for task in (ecpay_notifications_drain, payment_validate, ecpay_notifications_drain):
        bench_tasks.drain_count(sender=task, task_id="1", task=task)

    assert counted == [bench_tasks.DRAINS_KEY] * 2


def test_the_pipeline_passes_while_the_worker_adds_at_most_a_tenth_to_its_steps():
    steps = ({"steps": 3.0, "mariadb": 1.0}, 100)

    within = _cpu_row("pipeline", ({"worker": 4.3}, 100), steps, target=1.1)
    beyond = _cpu_row("pipeline", ({"worker": 4.5}, 100), steps, target=1.1)

    assert PIPELINE_ORCHESTRATION_TARGET == 1.1
    assert (within.target, within.passed) == ("≤ 1.1×", True)
    assert (beyond.passed, round(beyond.ratio or 0, 3)) == (False, 1.125)
