"""Refused callbacks about no payment are kept to investigate, then deleted; a callback about a
payment is its evidence and stays."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gateways.models import CallbackOutcome, Gateway, GatewayCallback
from gateways.services import callback_record, callback_settle
from gateways.services import callbacks_purge_refused as callbacks_purge
from gateways.tasks import callbacks_purge_refused
from tests.factories import PaymentFactory


def stored(*, days_ago: int, outcome: str, payment_id: int | None = None) -> GatewayCallback:
    callback = callback_record(
        gateway=Gateway.WALLET, body="{}", content_type="", headers={}, remote_addr=None
    )
    callback_settle(
        callback_id=callback.pk, gateway=Gateway.WALLET, outcome=outcome, payment_id=payment_id
    )
    GatewayCallback.objects.filter(pk=callback.pk).update(
        created_at=timezone.now() - timedelta(days=days_ago)
    )
    return callback


@pytest.mark.django_db
def test_refused_callbacks_about_no_payment_past_their_retention_are_deleted(settings):
    settings.CALLBACK_REFUSED_RETENTION_DAYS = 30
    old_junk = stored(days_ago=31, outcome=CallbackOutcome.REJECTED)
    recent_junk = stored(days_ago=29, outcome=CallbackOutcome.REJECTED)
    old_accepted = stored(days_ago=400, outcome=CallbackOutcome.ACCEPTED)
    old_duplicate = stored(days_ago=400, outcome=CallbackOutcome.DUPLICATE)
    evidence = stored(
        days_ago=400, outcome=CallbackOutcome.REJECTED, payment_id=PaymentFactory.create().pk
    )

    assert callbacks_purge_refused() == 1

    kept = set(GatewayCallback.objects.values_list("pk", flat=True))
    assert kept == {recent_junk.pk, old_accepted.pk, old_duplicate.pk, evidence.pk}
    assert old_junk.pk not in kept


@pytest.mark.django_db
def test_the_purge_works_in_batches_until_none_is_left():
    for _ in range(5):
        stored(days_ago=100, outcome=CallbackOutcome.REJECTED)
    assert callbacks_purge(older_than=timedelta(days=90), batch=2) == 5
    assert not GatewayCallback.objects.exists()
