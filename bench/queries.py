"""SQL queries per operation, counted in the benchmark's own process on payments_bench.

Reported, not asserted: the budgets are the query-count tests' job (tests/payments/
test_query_counts.py), and they are counted the same way: the statements that read or write
rows, with transaction control (BEGIN, COMMIT, SAVEPOINT, RELEASE) beside them. Each operation
runs once warm (after one run that fills Django's caches: content types, permissions, the
session).
"""

from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench import data
from gateways.base import CardDetails
from gateways.card import get_card_gateway
from gateways.models import GatewayCallback
from payments import pipeline
from payments.ecpay.notifications import ecpay_notification_apply

CREATE_BODY = {"kind": "deposit", "amount": "500", "currency": "TWD", "gateway": "ecpay"}
CARD = CardDetails(number="4242424242424242", exp_month=12, exp_year=2030, cvc="123")


Count = tuple[int, int]


def count_queries(users: data.Users) -> dict[str, Count]:
    """Statements of each operation, by name: (reading or writing rows, transaction control)."""
    customer = Client(SERVER_NAME="127.0.0.1", HTTP_AUTHORIZATION=f"Token {users.customer_token}")
    staff_api = Client(SERVER_NAME="127.0.0.1", HTTP_AUTHORIZATION=f"Token {users.staff_token}")
    admin = data.admin_client(users.staff)
    ecpay = data.pending_ecpay_create(2, user=users.customer)
    now = timezone.now()
    notifications = iter(
        data.ecpay_paid_body(trade_no, public_id, 900_000 + i, now)
        for i, (trade_no, public_id) in enumerate(ecpay)
    )
    token = get_card_gateway().tokenize(CARD).token
    card_payments = iter(data.pending_card_create(2, token=token))

    def create() -> Any:
        body = {**CREATE_BODY, "method": "card"}
        return customer.post("/api/v1/payments/", body, content_type="application/json")

    def notify() -> Any:
        return Client(SERVER_NAME="127.0.0.1").post(
            "/callbacks/ecpay/notify/",
            next(notifications),
            content_type="application/x-www-form-urlencoded",
        )

    counts = {
        "create payment (ECPay, API)": _warm_count(create),
        "ECPay notification (the request)": _warm_count(notify),
        "ECPay notification (applied on the worker)": _apply_count(),
        "API list page (customer)": _warm_count(lambda: customer.get("/api/v1/payments/")),
        "API list page (staff)": _warm_count(lambda: staff_api.get("/api/v1/payments/")),
        "admin changelist page": _warm_count(lambda: admin.get("/admin/payments/payment/")),
    }
    _pipeline_steps(next(card_payments))
    counts.update(
        {f"pipeline: {name}": n for name, n in _pipeline_steps(next(card_payments)).items()}
    )
    return counts


def _warm_count(operation: Callable[[], Any]) -> Count:
    first = operation()
    if first.status_code >= 400:
        raise RuntimeError(f"{operation} answered {first.status_code}: {first.content[:300]!r}")
    with CaptureQueriesContext(connection) as queries:
        operation()
    return _split(queries)


def _apply_count() -> Count:
    """The worker's part of the two notifications just posted: the first warms the caches,
    the second is counted."""
    latest = GatewayCallback.objects.order_by("-pk").values_list("pk", flat=True)
    counted, warm = list(latest[:2])
    ecpay_notification_apply(callback_id=warm)
    with CaptureQueriesContext(connection) as queries:
        ecpay_notification_apply(callback_id=counted)
    return _split(queries)


def _split(queries: CaptureQueriesContext) -> Count:
    statements = [query["sql"].lstrip().upper() for query in queries.captured_queries]
    control = sum(sql.startswith(_TRANSACTION_CONTROL) for sql in statements)
    return len(statements) - control, control


_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def _pipeline_steps(payment_id: int) -> dict[str, Count]:
    counts = {}
    for name, step in (
        ("validate", pipeline.validate),
        ("process", pipeline.process),
        ("update", pipeline.update),
        ("notify", pipeline.notify),
    ):
        with CaptureQueriesContext(connection) as queries:
            step(payment_id)
        counts[name] = _split(queries)
    return counts
