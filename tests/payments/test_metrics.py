"""Prometheus metrics: /metrics answers only a scraper with the token, and what happens to
payments, callbacks and gateway calls moves the series README's Operations describes, with
bounded labels only. Counters are process-wide: each test compares a scrape before and after.

The metrics of several processes (gunicorn's, a Celery worker's pool) are added up in
tests/integration/test_metrics_processes.py.
"""

import json
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from gateways.card.simulator import cards
from payments.models import GatewayOperation
from payments.tasks import gateways_probe, ledger_check, operations_settle_unknown
from tests.factories import UserFactory
from tests.metrics import samples, value
from tests.processes import ROOT

TOKEN = "metrics-test-token-0123456789abcdef"
Scrape = Callable[[], bytes]


@pytest.fixture
def scrape(client, settings) -> Scrape:
    settings.METRICS_TOKEN = TOKEN

    def scrape() -> bytes:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=")
        body: bytes = response.content
        return body

    return scrape


def grew(before: bytes, after: bytes, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_metrics_are_off_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.parametrize("authorization", ["", "Bearer wrong", f"Token {TOKEN}", TOKEN])
def test_metrics_refuse_a_scraper_without_the_token(client, settings, authorization):
    settings.METRICS_TOKEN = TOKEN

    response = client.get("/metrics", HTTP_AUTHORIZATION=authorization)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"payments_" not in response.content


@pytest.mark.django_db
def test_a_scraper_asking_by_address_over_plain_http_is_answered(client, settings):
    """Inside the VPC a scraper asks the task by its address, over HTTP: neither the host check
    nor the HTTPS redirect stands in its way, as for the health checks."""
    settings.METRICS_TOKEN = TOKEN
    settings.SECURE_SSL_REDIRECT = True

    response = client.get(
        "/metrics", HTTP_HOST="10.0.3.17:8000", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    )

    assert response.status_code == 200
    assert b"payments_needing_review" in response.content


@pytest.mark.django_db
def test_requests_are_counted_by_route_pattern_never_by_path(client, scrape):
    before = scrape()
    client.get("/api/v1/payments/pay_doesnotexist123/")
    client.get("/no/such/page/")
    after = scrape()

    route = "api/v1/payments/<str:public_id>/"
    assert grew(before, after, "http_requests_total", method="GET", route=route, status="401")
    assert grew(before, after, "http_requests_total", route="unmatched", status="404") == 1
    assert grew(before, after, "http_request_duration_seconds_count", route=route) == 1
    assert "pay_doesnotexist123" not in after.decode()


@pytest.mark.django_db
def test_database_statements_are_timed_by_their_kind(scrape):
    before = scrape()
    UserFactory.create()
    after = scrape()

    assert grew(before, after, "db_query_duration_seconds_count", operation="insert") >= 1
    assert grew(before, after, "db_query_duration_seconds_count", operation="select") >= 1


@pytest.mark.django_db
def test_a_card_payment_moves_the_payment_pipeline_and_gateway_series(pay, scrape):
    before = scrape()
    pay(cards.APPROVE)
    after = scrape()

    card = {"gateway": "card", "method": "card"}
    assert grew(before, after, "payments_created_total", **card) == 1
    assert grew(before, after, "payments_transitions_total", **card, status="processing") == 1
    assert grew(before, after, "payments_transitions_total", **card, status="completed") == 1
    assert grew(before, after, "payments_completion_seconds_count", gateway="card") == 1
    for step in ("validate", "process", "update", "notify"):
        assert grew(before, after, "payments_pipeline_step_duration_seconds_count", step=step)
    calls = {"gateway": "card", "operation": "charge"}
    assert grew(before, after, "payments_gateway_calls_total", **calls, outcome="ok") == 1
    assert grew(before, after, "payments_gateway_call_duration_seconds_count", **calls) == 1
    assert (
        grew(
            before,
            after,
            "payments_operations_total",
            gateway="card",
            kind="charge",
            status="succeeded",
        )
        == 1
    )


@pytest.mark.django_db
def test_declines_retries_and_dead_letters_are_told_apart(pay, scrape, settings):
    settings.PIPELINE_RETRY_MAX = 2
    before = scrape()
    pay(cards.DECLINE)
    pay(cards.TRANSIENT_THRICE)  # more transient errors than retries: a dead letter
    after = scrape()

    card = {"gateway": "card", "method": "card"}
    assert grew(before, after, "payments_transitions_total", **card, status="failed") == 2
    calls = {"gateway": "card", "operation": "charge"}
    assert grew(before, after, "payments_gateway_calls_total", **calls, outcome="declined") == 1
    assert grew(before, after, "payments_gateway_calls_total", **calls, outcome="transient") >= 2
    assert grew(before, after, "payments_pipeline_retries_total", step="process") >= 1
    assert grew(before, after, "payments_dead_letters_total", gateway="card") == 1
    assert value(after, "payments_needing_review") >= 1


@pytest.mark.django_db
def test_an_unknown_outcome_is_a_gauge_with_its_age_until_it_is_settled(pay, scrape, settings):
    settings.CARD_PROVIDER_TIMEOUT_SECONDS = 0.5  # the simulator's slow card takes 2 s
    payment = pay(cards.TIMEOUT_AFTER_CHARGE)
    GatewayOperation.objects.filter(payment=payment).update(
        created_at=timezone.now() - timedelta(minutes=20)
    )

    unknown = scrape()
    settings.OPERATION_SETTLE_AFTER_SECONDS = 0
    operations_settle_unknown()
    settled = scrape()

    assert value(unknown, "payments_operations_unknown") == 1
    assert 20 * 60 <= value(unknown, "payments_operation_unknown_oldest_age_seconds") < 21 * 60
    calls = {"gateway": "card", "operation": "charge", "outcome": "outcome_unknown"}
    assert value(unknown, "payments_gateway_calls_total", **calls) >= 1
    assert value(settled, "payments_operations_unknown") == 0
    assert value(settled, "payments_operation_unknown_oldest_age_seconds") == 0


@pytest.mark.django_db
def test_the_queues_depth_and_the_broker_are_read_at_scrape_time(scrape):
    after = scrape()

    assert value(after, "payments_broker_up") == 1
    depth = [labels for name, labels, _ in samples(after) if name == "payments_queue_depth"]
    queues = {labels["queue"] for labels in depth}
    assert queues == {"pipeline", "notifications", "maintenance"}


@pytest.mark.django_db
def test_the_periodic_tasks_set_the_heartbeat_and_the_ledger_check(scrape):
    UserFactory.create()
    started = timezone.now().timestamp()

    gateways_probe()
    assert ledger_check() == 0
    after = scrape()

    assert value(after, "payments_periodic_heartbeat_timestamp_seconds") >= int(started)
    assert value(after, "payments_ledger_checked_timestamp_seconds") >= int(started)
    assert value(after, "payments_ledger_mismatches") == 0


@pytest.mark.django_db
def test_a_balance_that_differs_from_its_ledger_is_a_gauge_and_an_error_line(scrape, caplog):
    UserFactory.create(balance="50.00")  # no ledger entry says where the 50 came from

    assert ledger_check() == 1
    after = scrape()

    assert value(after, "payments_ledger_mismatches") == 1
    assert "1 balance(s) differ from their ledger" in caplog.text


@pytest.mark.django_db
def test_callbacks_are_counted_by_outcome_and_a_bounded_reason(
    client, scrape, django_capture_on_commit_callbacks, caplog
):
    notify = "/callbacks/ecpay/notify/"
    form = "application/x-www-form-urlencoded"
    before = scrape()
    # Counted as they commit.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(notify, "MerchantTradeNo=X1&RtnCode=1&CheckMacValue=FORGED", content_type=form)
        client.post(notify, "a=" + "x" * 40_000, content_type=form)
    after = scrape()

    assert grew(before, after, "payments_callbacks_received_total", gateway="ecpay") == 1
    forged = {"gateway": "ecpay", "outcome": "rejected", "reason": "bad_signature"}
    assert grew(before, after, "payments_callbacks_total", **forged) == 1
    large = {"gateway": "ecpay", "reason": "too_large"}
    assert grew(before, after, "payments_callbacks_refused_unstored_total", **large) == 1
    # The line deploy/service.yaml's CallbacksRefusedFilter counts.
    [line] = [r for r in caplog.records if r.name == "gateways.services"]
    assert line.getMessage().endswith("refused: bad signature")


# Every label the service puts on a series, and what its values look like: names from a fixed
# set (a gateway, a step, a status, an outcome) or a route pattern; never an id, an address,
# an amount or an email.
LABELS = {
    # An HTTP method, or a payment's (PaymentMethod).
    "method": r"GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|other|[a-z_]+",
    "route": r"unmatched|[A-Za-z0-9_/<>:.\-]*",
    "status": r"[0-9]{3}|[a-z_]+",
    "gateway": r"card|ecpay|wallet|bank_app|balance",
    # A gateway's operation, or a database statement's first word.
    "operation": r"tokenize|charge|find_charge|refund|query_trade"
    r"|select|insert|update|delete|other",
    "outcome": r"ok|declined|transient|outcome_unknown|permanent|bad_signature|error"
    r"|accepted|duplicate|rejected",
    "reason": r"none|bad_signature|crashed|refused|too_large|throttled|malformed",
    "kind": r"charge|refund",
    "step": r"validate|process|update|notify",
    "queue": r"pipeline|notifications|maintenance",
    # prometheus_client's own: histogram buckets, and the Python process.
    "le": r"[0-9.e+]+|\+Inf",
    "implementation": r".*",
    "major": r".*",
    "minor": r".*",
    "patchlevel": r".*",
    "version": r".*",
    "generation": r".*",
}


@pytest.mark.django_db
def test_every_label_of_a_scrape_is_bounded(pay, client, scrape):
    pay(cards.APPROVE)
    pay(cards.DECLINE)
    client.get("/api/v1/payments/pay_0123456789/")

    for name, labels, _ in samples(scrape()):
        for label, label_value in labels.items():
            assert label in LABELS, (name, label)
            assert re.fullmatch(LABELS[label], label_value), (name, label, label_value)
            assert "pay_" not in label_value, (name, label_value)
            assert "@" not in label_value, (name, label_value)


def exposed_names(text: bytes) -> set[str]:
    """Every series name a scrape can hold, samples or not (a labelled counter nobody has
    moved yet has its family and no sample)."""
    names = set()
    for family in text_string_to_metric_families(text.decode()):
        names |= {family.name + suffix for suffix in ("", "_total", "_bucket", "_count", "_sum")}
    return names


def referenced_names(text: str) -> set[str]:
    return set(re.findall(r"\b(?:payments|http|db)_[a-z_]+\b", text))


@pytest.mark.django_db
def test_the_alert_rules_and_the_dashboard_ask_only_for_series_the_service_exposes(scrape):
    rules = (ROOT / "deploy/prometheus/alerts.yml").read_text()
    dashboard = json.loads((ROOT / "deploy/grafana/payments.json").read_text())
    queries = " ".join(
        target["expr"] for panel in dashboard["panels"] for target in panel["targets"]
    )

    exposed = exposed_names(scrape())

    assert referenced_names(queries) - exposed == set()
    assert referenced_names(rules) - exposed == set()
    # What the README's Operations section explains: every alert, by its name.
    readme = (ROOT / "README.md").read_text()
    for alert in re.findall(r"- alert: (\w+)", rules):
        assert f"`{alert}`" in readme, alert
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in readme.splitlines()
        if line.startswith("#")
    }
    assert set(re.findall(r"README\.md#([a-z0-9-]+)", rules)) <= headings


def test_the_dashboard_is_grafana_json_with_its_datasource_a_variable():
    dashboard = json.loads((ROOT / "deploy/grafana/payments.json").read_text())

    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    places = {(panel["gridPos"]["x"], panel["gridPos"]["y"]) for panel in dashboard["panels"]}
    assert len(places) == len(ids)
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
