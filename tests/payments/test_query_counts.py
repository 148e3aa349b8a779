"""Query budgets of the hot paths: regression tests, not timings.

Counted are the statements that read or write rows; transaction control (BEGIN, COMMIT,
SAVEPOINT, RELEASE) is left out, because on MariaDB Django's driver issues it outside the query
log and, in a test, the savepoints are the test's own transaction showing through. The counts
are the same on SQLite and MariaDB. A budget is the most a path may take (issue 9: creating a
payment ≤ 4, an ECPay notification's request ≤ 6, what the worker then does pinned); the
pipeline's steps are pinned exactly, so a change there means a step does more (or less) work
per payment than before, worth a look before the number is updated. List pages are constant in
the page size (tests/payments/test_api_list.py, tests/payments/test_admin_payments.py).
"""

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from payments import pipeline
from payments.models import Payment, PaymentStatus
from tests.factories import OrderFactory, card_payment_body
from tests.payments.test_ecpay_notifications import (
    deliver,
    paid_notification,
    signed,
    start_payment,
)

pytestmark = pytest.mark.django_db

# The caller (token and user in one), the order, the payment and its first event.
CREATE_BUDGET = 4
# The request: store the callback, check it names a payment of ours for its amount, and whether
# an earlier one waits (then the drain applying that one reaches this one; otherwise it queues a
# drain). Three spare: the request is all ECPay waits for.
NOTIFICATION_BUDGET = 6
NOTIFICATION_QUERIES = 3
# On the worker: the oldest waiting callback and its payment, each read under its lock, the
# notifications about the payment already applied (one saying the same makes this a replay),
# the transition on the locked row (the update, the event), the callback settled. A duplicate
# moves nothing. The drain stops when its next look finds nothing waiting.
NOTIFICATION_APPLY_QUERIES = 6
DUPLICATE_NOTIFICATION_APPLY_QUERIES = 4
DRAIN_FINDS_NONE_QUERIES = 1
# One card payment's steps. validate: read under the lock, the gateway switch, the transition.
# process: read (with whether a charge succeeded already), the switch, record the attempt (lock,
# the earlier ones, insert, the attempt count, event), settle it (lock, update, event). update:
# read under the lock (with the charge's id) and move it, lock the order, its header, move
# it. notify: read (with the customer and order), one email (created claimed, sent), then the
# timeline entry under the payment's lock.
PIPELINE_STEP_QUERIES = {"validate": 4, "process": 10, "update": 8, "notify": 6}

_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def data_queries(run: Callable[[], Any]) -> list[str]:
    """The row-reading and row-writing statements `run()` sends to the database."""
    with CaptureQueriesContext(connection) as captured:
        run()
    statements = [query["sql"] for query in captured.captured_queries]
    return [sql for sql in statements if not sql.lstrip().upper().startswith(_TRANSACTION_CONTROL)]


def test_creating_an_ecpay_payment_stays_within_its_query_budget(customer, api_client_for):
    order = OrderFactory.create(user=customer)
    client = api_client_for(customer)
    body = {
        "kind": "order",
        "order": order.number,
        "amount": str(order.total),
        "currency": "TWD",
        "gateway": "ecpay",
        "method": "card",
    }

    queries = data_queries(lambda: client.post("/api/v1/payments/", body, format="json"))

    assert Payment.objects.get(order=order).status == PaymentStatus.PENDING
    assert len(queries) <= CREATE_BUDGET, queries


def test_creating_a_card_payment_stays_within_its_query_budget(
    customer, api_client_for, card_provider, no_pipeline
):
    order = OrderFactory.create(user=customer)
    client = api_client_for(customer)
    body = card_payment_body(order)

    queries = data_queries(lambda: client.post("/api/v1/payments/", body, format="json"))

    assert no_pipeline == [Payment.objects.get(order=order).pk]
    assert len(queries) <= CREATE_BUDGET, queries


def test_an_ecpay_notification_stays_within_its_query_budget(django_capture_on_commit_callbacks):
    payment = start_payment()
    notification = signed(paid_notification(payment))
    client = Client()

    with django_capture_on_commit_callbacks() as queued:
        first = data_queries(lambda: deliver(client, notification))
        again = data_queries(lambda: deliver(client, notification))
    # One drain for both (the redelivery found the first waiting), run as the worker would.
    (drain,) = queued
    drained = data_queries(drain)

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PROCESSING
    assert len(first) <= NOTIFICATION_BUDGET, first
    assert (len(first), len(again)) == (NOTIFICATION_QUERIES, NOTIFICATION_QUERIES), first
    assert len(drained) == (
        NOTIFICATION_APPLY_QUERIES + DUPLICATE_NOTIFICATION_APPLY_QUERIES + DRAIN_FINDS_NONE_QUERIES
    ), drained


def test_each_pipeline_step_of_a_card_payment_takes_a_fixed_number_of_queries(
    customer, api_client_for, card_provider, no_pipeline
):
    order = OrderFactory.create(user=customer)
    response = api_client_for(customer).post(
        "/api/v1/payments/", card_payment_body(order), format="json"
    )
    payment_id = Payment.objects.get(public_id=response.json()["id"]).pk

    counted = {
        "validate": len(data_queries(lambda: pipeline.validate(payment_id))),
        "process": len(data_queries(lambda: pipeline.process(payment_id))),
        "update": len(data_queries(lambda: pipeline.update(payment_id))),
        "notify": len(data_queries(lambda: pipeline.notify(payment_id))),
    }

    assert Payment.objects.get(pk=payment_id).status == PaymentStatus.COMPLETED
    assert counted == PIPELINE_STEP_QUERIES
