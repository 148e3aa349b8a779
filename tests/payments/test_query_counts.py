"""Query counts of the card payment path: regression tests, not timings.

The counts are the same on SQLite and MariaDB; a change here means the path does more (or less)
work per payment than before, which is worth a look before updating the number.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gateways.card.simulator import cards
from payments.models import Payment, PaymentStatus
from payments.tasks import payment_validate
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

# Session and token lookups, the order, then the payment and its first event.
CREATE_ENDPOINT_QUERIES = 7
# validate, process (record the operation, settle it), update (payment, header, order), notify
# (one email), each step's event, and the savepoints of their transactions.
PIPELINE_QUERIES = 53


def test_creating_a_card_payment_and_running_its_pipeline_take_a_fixed_number_of_queries(
    customer, api_client_for, card_provider, no_pipeline
):
    order = OrderFactory.create(user=customer)
    client = api_client_for(customer)
    body = {
        "kind": "order",
        "order": order.number,
        "amount": str(order.total),
        "currency": "TWD",
        "card": {
            "number": cards.APPROVE,
            "exp_month": 1,
            "exp_year": timezone.localdate().year + 1,
            "cvc": "123",
        },
    }

    with CaptureQueriesContext(connection) as create:
        response = client.post("/api/v1/payments/", body, format="json")
    assert response.status_code == 202
    payment = Payment.objects.get(public_id=response.json()["id"])

    with CaptureQueriesContext(connection) as pipeline:
        payment_validate.delay(payment.pk)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED

    assert (len(create), len(pipeline)) == (CREATE_ENDPOINT_QUERIES, PIPELINE_QUERIES)
