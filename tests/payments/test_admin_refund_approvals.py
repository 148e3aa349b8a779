"""Refunds that take a payment's refunds above REFUND_APPROVAL_THRESHOLD wait for a second
manager: the services' rules, the running total the threshold counts (under the payment's lock),
the database's four-eyes constraint, and the API's answer while one waits."""

from decimal import Decimal

import pytest
from django.db import IntegrityError
from django.utils import timezone

from accounts.models import User
from core.exceptions import IllegalTransition
from gateways.card.simulator import cards
from payments.exceptions import InvalidRefund, RefundInProgress
from payments.models import (
    OperationKind,
    OperationStatus,
    Payment,
    RefundApproval,
    RefundApprovalStatus,
)
from payments.refunds.approvals import (
    RefundApprovalForbidden,
    RefundAsked,
    refund_approve,
    refund_ask,
    refund_reject,
)
from tests.back_office import manager, reviewer
from tests.concurrency import run_at_once

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


# The threshold counts the payment's refunds so far: a refund is never split under it. The
# payment is 40000 TWD and the threshold 10000 (`payment_of_40000`).


@pytest.fixture
def ask(django_capture_on_commit_callbacks):
    """Ask for a refund as a manager; a refund made at once is made at the gateway (and counted
    in the payment's `refunded_amount`) before this returns."""

    def ask(payment: Payment, amount: str, *, by: User | None = None) -> RefundAsked:
        with django_capture_on_commit_callbacks(execute=True):
            return refund_ask(
                payment_id=payment.pk, amount=Decimal(amount), reason="split", actor=by or manager()
            )

    return ask


def refunds_made(payment: Payment) -> list[Decimal]:
    return list(
        payment.operations.filter(kind=OperationKind.REFUND)
        .order_by("pk")
        .values_list("amount", flat=True)
    )


def test_a_rejected_refund_is_not_made_anyway_as_smaller_ones(payment_of_40000, ask):
    payment = payment_of_40000
    asker = manager()
    rejected = ask(payment, "15000", by=asker).approval
    assert rejected is not None
    refund_reject(approval_id=rejected.pk, actor=manager(), note="not that much")

    first = ask(payment, "10000", by=asker)
    second = ask(payment, "10000", by=asker)

    assert first.refund is not None  # 10000 so far: at the threshold, made at once
    assert second.refund is None
    assert second.approval is not None  # 20000 so far: a second manager decides
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("10000")
    assert refunds_made(payment) == [Decimal("10000")]


def test_a_first_refund_of_exactly_the_threshold_is_made_at_once(payment_of_40000, ask):
    asked = ask(payment_of_40000, "10000")

    assert asked.approval is None
    assert asked.refund is not None
    asked.refund.refresh_from_db()
    assert asked.refund.status == OperationStatus.SUCCEEDED


def test_after_a_refund_of_6000_a_refund_of_5000_needs_approval(payment_of_40000, ask):
    payment = payment_of_40000
    assert ask(payment, "6000").refund is not None

    asked = ask(payment, "5000")

    assert asked.approval is not None
    assert asked.approval.amount == Decimal("5000")
    assert refunds_made(payment) == [Decimal("6000")]


@pytest.mark.parametrize("status", [OperationStatus.PENDING, OperationStatus.UNKNOWN])
def test_a_refund_still_at_the_gateway_counts_too(payment_of_40000, status):
    payment = payment_of_40000
    # Made at once, but the gateway has not answered (the task is not run), or answered nothing.
    first = refund_ask(payment_id=payment.pk, amount=Decimal("6000"), reason="x", actor=manager())
    assert first.refund is not None
    payment.operations.filter(pk=first.refund.pk).update(status=status)

    asked = refund_ask(payment_id=payment.pk, amount=Decimal("5000"), reason="y", actor=manager())

    assert asked.approval is not None
    assert refunds_made(payment) == [Decimal("6000")]


def test_a_refund_waiting_for_approval_counts_too(payment_of_40000, ask):
    payment = payment_of_40000
    assert ask(payment, "15000").approval is not None

    with pytest.raises(RefundInProgress):
        ask(payment, "100")  # 15100 with the one waiting: it would need approval too

    assert refunds_made(payment) == []


def test_an_approved_refund_is_made_without_asking_again(
    payment_of_40000, ask, django_capture_on_commit_callbacks
):
    payment = payment_of_40000
    ask(payment, "6000")
    approval = ask(payment, "5000").approval
    assert approval is not None

    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_approve(approval_id=approval.pk, actor=manager(), note="checked")

    refund.refresh_from_db()
    assert (refund.amount, refund.status) == (Decimal("5000"), OperationStatus.SUCCEEDED)
    assert RefundApproval.objects.filter(payment=payment).count() == 1
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("11000")


def test_the_api_answers_202_awaiting_approval_once_the_refunds_pass_the_threshold(
    payment_of_40000, ask, api_client_for
):
    payment = payment_of_40000
    staff = manager()
    ask(payment, "6000", by=staff)

    response = api_client_for(staff).post(
        f"/api/v1/payments/{payment.public_id}/refunds/",
        {"amount": "5000", "reason": "the rest of the parcel"},
        format="json",
    )

    assert response.status_code == 202
    assert (response.json()["status"], response.json()["amount"]) == (
        "awaiting_approval",
        "5000.00",
    )
    assert refunds_made(payment) == [Decimal("6000")]


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_two_refunds_asked_at_once_are_not_both_made_without_approval(payment_of_40000):
    payment = payment_of_40000
    staff = manager()

    # 6000 each: either alone is under the threshold, both together are not.
    results = run_at_once(
        lambda: refund_ask(
            payment_id=payment.pk, amount=Decimal("6000"), reason="at once", actor=staff
        ),
        threads=2,
    )

    assert sorted(result.refund is not None for result in results) == [False, True]
    assert sorted(result.approval is not None for result in results) == [False, True]
    assert refunds_made(payment) == [Decimal("6000")]
    assert (
        RefundApproval.objects.filter(
            payment=payment, status=RefundApprovalStatus.REQUESTED
        ).count()
        == 1
    )
