"""The metrics of several processes are added up where they are served: gunicorn's processes on
the web tier's /metrics, a Celery worker's pool on its METRICS_PORT (core/metrics.py), as the
image runs them (PROMETHEUS_MULTIPROC_DIR)."""

from pathlib import Path

import pytest
import requests

from payments.models import Payment, PaymentStatus
from tests.factories import OrderFactory, UserFactory, card_payment_body
from tests.integration.conftest import METRICS_TOKEN
from tests.metrics import value
from tests.processes import wait_for

pytestmark = pytest.mark.integration


def web_metrics(base: str) -> bytes:
    response = requests.get(
        f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
    )
    assert response.status_code == 200
    return response.content


def test_gunicorns_processes_are_added_up_on_metrics(live_app_url, live_app_folder: Path):
    route = {"method": "GET", "route": "api/v1/payments/", "status": "401"}
    before = value(web_metrics(live_app_url), "http_requests_total", **route)

    for _ in range(30):
        # A connection each: the listening socket hands them to gunicorn's processes in turn.
        requests.get(
            f"{live_app_url}/api/v1/payments/", headers={"Connection": "close"}, timeout=10
        )
    after = web_metrics(live_app_url)

    assert value(after, "http_requests_total", **route) - before == 30
    counting = {
        path.stem.rsplit("_", 1)[1] for path in (live_app_folder / "prometheus").glob("*.db")
    }
    assert len(counting) >= 2, counting  # more than one process counted them
    # Refused without the token, as in production.
    assert requests.get(f"{live_app_url}/metrics", timeout=10).status_code == 401


def test_a_workers_pool_is_counted_on_its_port(real_worker, worker_metrics_port, api_client_for):
    served = f"http://127.0.0.1:{worker_metrics_port}/metrics"
    completed = {"gateway": "card", "method": "card", "status": "completed"}
    before = requests.get(served, timeout=10).content
    customer = UserFactory.create()

    body = card_payment_body(OrderFactory.create(user=customer))
    response = api_client_for(customer).post("/api/v1/payments/", body, format="json")
    assert response.status_code == 202
    payment = Payment.objects.get(public_id=response.json()["id"])

    def completed_and_counted() -> bool:
        payment.refresh_from_db()
        after = requests.get(served, timeout=10).content
        notified = "payments_pipeline_step_duration_seconds_count"
        return payment.status == PaymentStatus.COMPLETED and (
            value(after, "payments_transitions_total", **completed)
            > value(before, "payments_transitions_total", **completed)
            and value(after, notified, step="notify") > value(before, notified, step="notify")
        )

    wait_for(completed_and_counted, timeout=60, what="the worker to complete and count it")
    after = requests.get(served, timeout=10).content
    charge = {"gateway": "card", "operation": "charge", "outcome": "ok"}
    assert value(after, "payments_gateway_calls_total", **charge) > value(
        before, "payments_gateway_calls_total", **charge
    )
    for step in ("validate", "process", "update", "notify"):
        assert value(after, "payments_pipeline_step_duration_seconds_count", step=step) > value(
            before, "payments_pipeline_step_duration_seconds_count", step=step
        )
