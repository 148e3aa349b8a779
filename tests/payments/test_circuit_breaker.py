"""A gateway's circuit breaker (seed 002's "restrict automatically", issue 22, 7): repeated
transient failures pause the gateway by itself and tell staff; a probe resumes it once it
answers; staff's pause wins. On this tier's database, with the card simulator over real HTTP.
The whole journey with a real worker: tests/integration/test_circuit_breaker.py."""

import logging
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.roles import MANAGERS
from gateways.base import TransientGatewayError
from gateways.card.simulator import cards
from gateways.models import Gateway, GatewaySwitch
from gateways.selectors import gateway_is_paused, gateways_to_probe
from gateways.services import gateway_count_transient_failure, gateway_set_paused
from payments import pipeline, tasks
from payments.models import Payment, PaymentStatus
from payments.services import breaker_count_failure, breakers_probe
from tests.factories import PaymentFactory, UserFactory

pytestmark = pytest.mark.django_db

WINDOW = timedelta(seconds=60)


@pytest.fixture
def breaker(settings):
    settings.GATEWAY_BREAKER_FAILURES = 3
    settings.GATEWAY_BREAKER_WINDOW_SECONDS = 60
    settings.GATEWAY_BREAKER_PROBE_SECONDS = 60


@pytest.fixture
def manager_on_call(db):
    manager = UserFactory.create(email="oncall@example.com", is_staff=True)
    manager.groups.add(Group.objects.get(name=MANAGERS))
    UserFactory.create(email="customer-not-told@example.com")
    return manager


def card_payment() -> Payment:
    return PaymentFactory.create(gateway=Gateway.CARD, card_token="tok_1")


def fail(payment: Payment) -> bool:
    return breaker_count_failure(payment_id=payment.pk, error=TransientGatewayError("timeout"))


def test_the_breaker_trips_at_the_threshold_and_tells_staff(
    breaker, manager_on_call, mailoutbox, caplog
):
    payment = card_payment()

    with caplog.at_level(logging.ERROR):
        tripped = [fail(payment) for _ in range(4)]

    assert tripped == [False, False, True, False]  # tripped once, by the third
    assert gateway_is_paused(Gateway.CARD)
    switch = GatewaySwitch.objects.get(gateway=Gateway.CARD)
    assert (switch.paused, switch.failures) == (False, 3)
    assert switch.tripped_at is not None
    assert str(switch) == "Card provider: paused by its circuit breaker"
    [alert] = mailoutbox
    assert alert.to == ["oncall@example.com"]
    assert alert.subject == "[payments] Card provider paused by its circuit breaker"
    assert "paused by its circuit breaker" in caplog.text
    with pytest.raises(pipeline.GatewayPaused):
        pipeline.validate(card_payment().pk)  # its payments wait


def test_failures_outside_the_window_do_not_add_up():
    for _ in range(2):
        gateway_count_transient_failure(gateway=Gateway.CARD, threshold=3, window=WINDOW)
    GatewaySwitch.objects.filter(gateway=Gateway.CARD).update(
        failures_since=timezone.now() - timedelta(seconds=61)
    )

    assert not gateway_count_transient_failure(gateway=Gateway.CARD, threshold=3, window=WINDOW)
    assert GatewaySwitch.objects.get(gateway=Gateway.CARD).failures == 1
    assert not gateway_is_paused(Gateway.CARD)


def test_a_probe_that_finds_the_gateway_answering_resumes_it(
    breaker, card_provider, manager_on_call, mailoutbox
):
    payment = card_payment()
    for _ in range(3):
        fail(payment)
    GatewaySwitch.objects.update(tripped_at=timezone.now() - timedelta(seconds=61))

    assert breakers_probe() == [Gateway.CARD]

    assert not gateway_is_paused(Gateway.CARD)
    switch = GatewaySwitch.objects.get(gateway=Gateway.CARD)
    assert (switch.tripped_at, switch.failures) == (None, 0)
    assert [message.subject for message in mailoutbox] == [
        "[payments] Card provider paused by its circuit breaker",
        "[payments] Card provider resumed",
    ]


def test_a_probe_that_finds_the_gateway_still_down_keeps_it_paused(breaker, settings):
    settings.CARD_PROVIDER_URL = "http://127.0.0.1:9"  # nothing listens: refused at once
    payment = card_payment()
    for _ in range(3):
        fail(payment)
    GatewaySwitch.objects.update(tripped_at=timezone.now() - timedelta(seconds=61))

    assert breakers_probe() == []

    switch = GatewaySwitch.objects.get(gateway=Gateway.CARD)
    assert switch.tripped_at is not None
    assert switch.probed_at is not None
    assert gateways_to_probe(every=timedelta(seconds=60)) == []  # not asked again at once


def test_a_gateway_is_not_probed_before_the_probe_interval(breaker, card_provider):
    payment = card_payment()
    for _ in range(3):
        fail(payment)

    assert breakers_probe() == []
    assert gateway_is_paused(Gateway.CARD)


def test_staffs_pause_wins_over_the_probe_and_their_unpause_closes_the_breaker(
    breaker, card_provider
):
    payment = card_payment()
    for _ in range(3):
        fail(payment)
    gateway_set_paused(gateway=Gateway.CARD, paused=True, by=None, reason="provider incident")
    GatewaySwitch.objects.update(tripped_at=timezone.now() - timedelta(seconds=61))

    assert breakers_probe() == []  # never probed while staff hold it
    assert gateway_is_paused(Gateway.CARD)
    assert not fail(payment)  # and failures are not counted against a paused gateway

    gateway_set_paused(gateway=Gateway.CARD, paused=False, by=None, reason="provider fixed")

    switch = GatewaySwitch.objects.get(gateway=Gateway.CARD)
    assert (switch.paused, switch.tripped_at, switch.failures) == (False, None, 0)
    assert not gateway_is_paused(Gateway.CARD)


def test_the_pipelines_transient_failures_trip_the_breaker(
    breaker, card_provider, customer, api_client_for, manager_on_call, mailoutbox, monkeypatch
):
    """Through the tasks: a card the provider keeps failing for (3 transient errors) trips a
    breaker set to 3, and the payment's next retry waits for the gateway instead of failing."""
    waited: list[int] = []
    # In-process tasks run at once: the recheck would run again at once, for ever.
    monkeypatch.setattr(
        tasks, "_wait_for_gateway", lambda task, payment_id, **kwargs: waited.append(payment_id)
    )
    card = {
        "number": cards.TRANSIENT_THRICE,
        "exp_month": 1,
        "exp_year": timezone.localdate().year + 1,
        "cvc": "999",
    }
    body = {"kind": "deposit", "amount": "100", "currency": "TWD", "card": card}
    response = api_client_for(customer).post("/api/v1/payments/", body, format="json")
    assert response.status_code == 202, response.json()
    payment = Payment.objects.get(public_id=response.json()["id"])

    tasks.payment_validate(payment.pk)

    payment.refresh_from_db()
    assert gateway_is_paused(Gateway.CARD)
    assert waited == [payment.pk]
    assert payment.status == PaymentStatus.PROCESSING  # waiting, not failed
    # The third failure tripped the breaker; its retry found the gateway paused, and waits.
    assert payment.events.filter(type="retry_scheduled").count() == 3
    assert not payment.events.filter(type="failed").exists()
    assert [m.subject for m in mailoutbox] == [
        "[payments] Card provider paused by its circuit breaker"
    ]
