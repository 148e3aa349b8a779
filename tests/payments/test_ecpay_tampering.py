"""A signed ECPay notification keeps its CheckMacValue when its fields are re-cut or recased:
ECPay joins them with `&` and lower-cases what it signs (docs/ecpay.md). Such a copy is refused,
recorded with the reason, and changes nothing; ECPay's own form is applied as before."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gateways.ecpay import check_mac_matches, ecpay_config
from gateways.models import CallbackOutcome, GatewayCallback
from orders.models import OrderStatus
from payments.models import PaymentMethod, PaymentStatus
from tests.payments.test_ecpay_notifications import (
    PAYMENT_INFO,
    TAIPEI,
    deliver,
    paid_notification,
    signed,
    start_payment,
)


def simulate_paid_folded_into_rtn_msg(fields: dict[str, str]) -> dict[str, str]:
    """SimulatePaid removed and written into RtnMsg, the field signed just before it."""
    folded = {name: value for name, value in fields.items() if name != "SimulatePaid"}
    folded["RtnMsg"] = f"{fields['RtnMsg']}&SimulatePaid={fields['SimulatePaid']}"
    return folded


def simulate_paid_recased(fields: dict[str, str]) -> dict[str, str]:
    return {("simulatepaid" if name == "SimulatePaid" else name): v for name, v in fields.items()}


def still_signed(fields: dict[str, str]) -> bool:
    config = ecpay_config()
    return check_mac_matches(fields, hash_key=config.hash_key, hash_iv=config.hash_iv)


# What each tampered copy is refused for, as ECPay is told and the inbox records.
REASONS = {
    simulate_paid_folded_into_rtn_msg: "field 'RtnMsg' holds '&'",
    simulate_paid_recased: "field 'simulatepaid' is not spelt as ECPay's 'SimulatePaid'",
}
TAMPERINGS = pytest.mark.parametrize("tamper", list(REASONS), ids=["folded", "recased"])


@pytest.mark.django_db
@TAMPERINGS
def test_a_simulated_payment_recut_to_pass_for_money_is_refused_recorded_and_changes_nothing(
    client, django_capture_on_commit_callbacks, mailoutbox, tamper
):
    payment = start_payment()
    tampered = tamper(signed(paid_notification(payment, SimulatePaid="1")))
    assert still_signed(tampered)
    events = payment.events.count()

    with django_capture_on_commit_callbacks(execute=True):
        answer = deliver(client, tampered)

    assert answer.startswith("0|")
    callback = GatewayCallback.objects.get()
    assert (callback.outcome, callback.signature_valid) == (CallbackOutcome.REJECTED, True)
    assert REASONS[tamper] in callback.outcome_reason
    assert answer == f"0|{callback.outcome_reason}"
    payment.refresh_from_db()
    assert (payment.status, payment.needs_review) == (PaymentStatus.PENDING, False)
    assert payment.order.status == OrderStatus.PENDING_PAYMENT
    assert payment.events.count() == events
    assert mailoutbox == []


@pytest.mark.django_db
@TAMPERINGS
def test_a_recut_copy_of_a_quarantined_simulated_payment_changes_nothing(
    client, django_capture_on_commit_callbacks, mailoutbox, tamper
):
    payment = start_payment()
    simulated = signed(paid_notification(payment, SimulatePaid="1"))
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, simulated) == "1|OK"

    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, tamper(simulated)).startswith("0|")

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert payment.order.status == OrderStatus.PENDING_PAYMENT
    outcomes = list(GatewayCallback.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == [CallbackOutcome.ACCEPTED, CallbackOutcome.REJECTED]
    assert mailoutbox == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("simulate_paid", "status", "answer"),
    [("0", PaymentStatus.COMPLETED, "1|OK"), ("1", PaymentStatus.PENDING, "1|OK")],
    ids=["paid", "simulated"],
)
def test_ecpays_own_form_is_applied_as_before(
    client, django_capture_on_commit_callbacks, simulate_paid, status, answer
):
    payment = start_payment()

    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, signed(paid_notification(payment, SimulatePaid=simulate_paid))) == (
            answer
        )

    payment.refresh_from_db()
    assert payment.status == status
    assert payment.needs_review is (simulate_paid == "1")
    assert GatewayCallback.objects.get().outcome == CallbackOutcome.ACCEPTED


@pytest.mark.django_db
@TAMPERINGS
def test_the_browser_is_told_a_recut_result_is_unconfirmed(client, tamper):
    payment = start_payment()
    result = f"/checkout/{payment.order.number}/result/"
    simulated = signed(paid_notification(payment, SimulatePaid="1"))

    assert client.post(result, simulated)["Location"] == result
    assert client.post(result, tamper(simulated))["Location"] == f"{result}?unconfirmed=1"


@pytest.mark.django_db
def test_a_payment_code_recased_in_a_signed_copy_is_the_same_code(
    client, django_capture_on_commit_callbacks
):
    payment = start_payment(PaymentMethod.CVS)
    in_a_week = (timezone.now() + timedelta(days=7)).astimezone(TAIPEI)
    fields = paid_notification(
        payment,
        RtnCode="10100073",
        RtnMsg="Get CVS Code Succeeded.",
        PaymentType="CVS_CVS",
        PaymentNo="LLL22251222",
        ExpireDate=in_a_week.strftime("%Y/%m/%d %H:%M:%S"),
    )
    code = signed(fields)
    recased = {**code, "PaymentNo": "lll22251222"}
    assert still_signed(recased)

    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, code, url=PAYMENT_INFO) == "1|OK"
        assert deliver(client, recased, url=PAYMENT_INFO) == "1|OK"

    payment.refresh_from_db()
    assert payment.payment_code == "LLL22251222"
    outcomes = list(GatewayCallback.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == [CallbackOutcome.ACCEPTED, CallbackOutcome.DUPLICATE]
