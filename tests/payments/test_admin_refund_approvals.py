"""Refunds above REFUND_APPROVAL_THRESHOLD wait for a second manager: the services' rules, the
database's four-eyes constraint, and the API's answer while one waits."""

from decimal import Decimal

import pytest
from django.db import IntegrityError
from django.utils import timezone

from core.exceptions import IllegalTransition
from gateways.card.simulator import cards
from payments.exceptions import InvalidRefund, RefundInProgress
from payments.models import OperationKind, RefundApproval, RefundApprovalStatus
from payments.services import RefundApprovalForbidden, refund_approve, refund_ask, refund_reject
from tests.back_office import manager, reviewer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def threshold(settings) -> Decimal:
    settings.REFUND_APPROVAL_THRESHOLD = Decimal("500")
    return Decimal("500")


def test_a_refund_at_or_below_the_threshold_is_made_at_once(pay):
    payment = pay(cards.APPROVE)

    asked = refund_ask(
        payment_id=payment.pk, amount=Decimal("500"), reason="dented", actor=manager()
    )

    assert asked.approval is None
    assert asked.refund is not None
    assert asked.refund.amount == Decimal("500")


def test_all_that_is_left_counts_against_the_threshold(pay):
    payment = pay(cards.APPROVE)  # 960 TWD

    asked = refund_ask(payment_id=payment.pk, amount=None, reason="lost", actor=manager())

    assert asked.refund is None
    assert asked.approval is not None
    assert asked.approval.amount is None
    assert not payment.operations.filter(kind=OperationKind.REFUND).exists()


def test_a_request_that_could_never_be_made_is_refused_before_anyone_approves_it(pay):
    payment = pay(cards.APPROVE)

    with pytest.raises(InvalidRefund):
        refund_ask(payment_id=payment.pk, amount=Decimal("5000"), reason="x", actor=manager())

    assert not RefundApproval.objects.exists()


def test_one_request_waits_per_payment(pay):
    payment = pay(cards.APPROVE)
    refund_ask(payment_id=payment.pk, amount=None, reason="lost", actor=manager())

    with pytest.raises(RefundInProgress):
        refund_ask(payment_id=payment.pk, amount=Decimal("600"), reason="again", actor=manager())


def test_nobody_approves_their_own_request_nor_without_the_permission(pay):
    payment = pay(cards.APPROVE)
    asker = manager()
    approval = refund_ask(payment_id=payment.pk, amount=None, reason="lost", actor=asker).approval
    assert approval is not None

    with pytest.raises(RefundApprovalForbidden):
        refund_approve(approval_id=approval.pk, actor=asker)
    with pytest.raises(RefundApprovalForbidden):
        refund_reject(approval_id=approval.pk, actor=reviewer(), note="no")

    approval.refresh_from_db()
    assert approval.status == RefundApprovalStatus.REQUESTED


def test_a_decided_request_is_not_decided_again(pay):
    payment = pay(cards.APPROVE)
    approval = refund_ask(payment_id=payment.pk, amount=None, reason="x", actor=manager()).approval
    assert approval is not None
    refund_reject(approval_id=approval.pk, actor=manager(), note="not lost after all")

    with pytest.raises(IllegalTransition, match="rejected already"):
        refund_approve(approval_id=approval.pk, actor=manager())


def test_the_database_refuses_a_decision_by_the_requester(pay):
    payment = pay(cards.APPROVE)
    asker = manager()

    with pytest.raises(IntegrityError):
        RefundApproval.objects.create(
            payment=payment,
            reason="x",
            requested_by=asker,
            status=RefundApprovalStatus.APPROVED,
            decided_by=asker,
            decided_at=timezone.now(),
        )


def test_the_api_answers_202_awaiting_approval_above_the_threshold(pay, api_client_for):
    payment = pay(cards.APPROVE)

    response = api_client_for(manager()).post(
        f"/api/v1/payments/{payment.public_id}/refunds/",
        {"amount": "600", "reason": "the whole shipment was lost"},
        format="json",
    )

    assert response.status_code == 202
    body = response.json()
    approval = RefundApproval.objects.get()
    assert body["approval"] == approval.pk
    assert (body["status"], body["amount"], body["payment"]) == (
        "awaiting_approval",
        "600.00",
        payment.public_id,
    )
    assert not payment.operations.filter(kind=OperationKind.REFUND).exists()
