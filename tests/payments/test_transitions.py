"""The payment status machine: every legal move, every illegal one."""

import itertools

import pytest

from core.exceptions import IllegalTransition
from payments.models import PAYMENT_TRANSITIONS, PaymentEvent, PaymentStatus
from payments.services import payment_transition
from tests.factories import PaymentFactory

LEGAL_MOVES = sorted(
    (from_status, to_status)
    for from_status, targets in PAYMENT_TRANSITIONS.items()
    for to_status in targets
)
ILLEGAL_MOVES = sorted(
    (from_status, to_status)
    for from_status, to_status in itertools.permutations(PaymentStatus.values, 2)
    if to_status not in PAYMENT_TRANSITIONS[from_status]
)


def test_the_table_covers_every_status_and_names_the_documented_moves():
    assert set(PAYMENT_TRANSITIONS) == set(PaymentStatus.values)
    assert (
        sorted(
            [
                ("pending", "processing"),
                ("pending", "cancelled"),
                ("pending", "expired"),
                ("processing", "completed"),
                ("processing", "failed"),
                ("processing", "credited"),
                ("completed", "refunded"),
                ("failed", "processing"),
                ("failed", "credited"),
                ("cancelled", "credited"),
                ("expired", "credited"),
            ]
        )
        == LEGAL_MOVES
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), LEGAL_MOVES)
def test_legal_move_saves_the_status_and_writes_one_event(from_status, to_status):
    payment = PaymentFactory.create(status=from_status)

    payment_transition(payment_id=payment.pk, to=to_status, event="test_move", data={"why": "test"})

    payment.refresh_from_db()
    assert payment.status == to_status
    event = PaymentEvent.objects.get(payment=payment)
    assert (event.type, event.from_status, event.to_status, event.data) == (
        "test_move",
        from_status,
        to_status,
        {"why": "test"},
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), ILLEGAL_MOVES)
def test_illegal_move_is_refused_and_saves_nothing(from_status, to_status):
    payment = PaymentFactory.create(status=from_status, failure_reason="")

    with pytest.raises(IllegalTransition) as refused:
        payment_transition(
            payment_id=payment.pk,
            to=to_status,
            event="test_move",
            changes={"failure_reason": "must not be saved"},
        )

    assert refused.value.code == "illegal_transition"
    assert refused.value.extra == {"from_status": from_status, "to_status": to_status}
    payment.refresh_from_db()
    assert payment.status == from_status
    assert payment.failure_reason == ""
    assert not PaymentEvent.objects.filter(payment=payment).exists()


@pytest.mark.django_db
def test_repeating_a_move_already_made_changes_nothing():
    payment = PaymentFactory.create(status=PaymentStatus.PROCESSING)
    payment_transition(payment_id=payment.pk, to=PaymentStatus.COMPLETED, event="charged")
    payment.refresh_from_db()
    completed_at = payment.completed_at

    payment_transition(payment_id=payment.pk, to=PaymentStatus.COMPLETED, event="charged")

    payment.refresh_from_db()
    assert payment.completed_at == completed_at
    assert PaymentEvent.objects.filter(payment=payment).count() == 1


@pytest.mark.django_db
def test_completing_stamps_the_time_and_saves_the_changes_with_the_status():
    payment = PaymentFactory.create(status=PaymentStatus.PROCESSING)

    payment_transition(
        payment_id=payment.pk,
        to=PaymentStatus.COMPLETED,
        event="charged",
        changes={"gateway_reference": "ch_123"},
    )

    payment.refresh_from_db()
    assert payment.completed_at is not None
    assert payment.gateway_reference == "ch_123"


@pytest.mark.django_db
def test_a_transition_cannot_be_used_to_set_money_fields():
    payment = PaymentFactory.create(status=PaymentStatus.PENDING)

    with pytest.raises(ValueError, match="amount"):
        payment_transition(
            payment_id=payment.pk,
            to=PaymentStatus.PROCESSING,
            event="x",
            changes={"amount": 1},
        )

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


@pytest.mark.django_db
def test_events_are_append_only():
    payment = PaymentFactory.create(status=PaymentStatus.PENDING)
    payment_transition(payment_id=payment.pk, to=PaymentStatus.CANCELLED, event="cancelled")
    event = PaymentEvent.objects.get(payment=payment)

    event.type = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
