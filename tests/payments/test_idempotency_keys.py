"""A payment's idempotency key is compared exactly, on every database: MariaDB's collation takes
"abc", "ABC" and "abc " for one text, so keys are compared by their sha256
(`Payment.idempotency_key_digest`, payments 0011)."""

import hashlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from payments.models import Payment, PaymentStatus
from tests.factories import OrderFactory, UserFactory

PAYMENTS = "/api/v1/payments/"
DEPOSIT = {"kind": "deposit", "amount": "100", "currency": "TWD", "gateway": "ecpay"}


def start(client, body, key):
    return client.post(PAYMENTS, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.mysql
@pytest.mark.django_db
@pytest.mark.parametrize("other_key", ["ABC", "abc "])
def test_keys_that_differ_only_in_case_or_trailing_spaces_make_two_deposits(
    api_client_for, other_key
):
    client = api_client_for(UserFactory.create())

    first = start(client, DEPOSIT, "abc")
    second = start(client, DEPOSIT, other_key)

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["id"] != second.json()["id"]
    assert set(Payment.objects.values_list("idempotency_key", flat=True)) == {"abc", other_key}


@pytest.mark.mysql
@pytest.mark.django_db
def test_a_key_differing_only_in_case_is_not_taken_for_the_payment_holding_the_order(
    api_client_for,
):
    # The second payment's INSERT fails on the order's claim, and the service then looks for a
    # payment of the same key: "abc"'s is not "ABC"'s. The first was never sent to ECPay, so
    # the second takes its place.
    order = OrderFactory.create()
    client = api_client_for(order.user)
    body = {**DEPOSIT, "kind": "order", "order": order.number, "amount": str(order.total)}

    first = start(client, body, "abc")
    second = start(client, body, "ABC")

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["id"] != second.json()["id"]
    assert Payment.objects.get(public_id=first.json()["id"]).status == PaymentStatus.CANCELLED


BEFORE = [("payments", "0010_verbose_names_translatable")]
AFTER = [("payments", "0011_payment_idempotency_key_digest")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_payments_made_before_the_digest_get_it_and_keep_their_key():
    user = UserFactory.create()
    old_apps = migrate(BEFORE)
    try:
        payment_then = old_apps.get_model("payments", "Payment")
        for key in ("abc", None):
            payment_then.objects.create(
                user_id=user.pk,
                kind="deposit",
                gateway="ecpay",
                method="card",
                amount="100.00",
                currency="TWD",
                idempotency_key=key,
            )
    finally:
        new_apps = migrate(AFTER)

    payment_now = new_apps.get_model("payments", "Payment")
    assert sorted(
        payment_now.objects.values_list("idempotency_key", "idempotency_key_digest"),
        key=str,
    ) == [("abc", hashlib.sha256(b"abc").hexdigest()), (None, None)]
    # Another key only in case is another key now, on MariaDB too.
    payment_now.objects.create(
        user_id=user.pk,
        kind="deposit",
        gateway="ecpay",
        method="card",
        amount="100.00",
        currency="TWD",
        idempotency_key="ABC",
    )
    assert payment_now.objects.filter(idempotency_key_digest__isnull=False).count() == 2
