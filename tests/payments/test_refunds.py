"""POST/GET /api/v1/payments/{id}/refunds/: staff refund order payments, fully or in part.

Card refunds go to the provider simulator over real HTTP; balance refunds credit the ledger.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from gateways.base import RefundRequest
from gateways.card import get_card_gateway
from gateways.ecpay import EcpayMethod
from gateways.ecpay.simulator.models import SimulatedEcpayTrade, set_faults
from gateways.models import Gateway
from orders.models import OrderStatus
from payments.ecpay.checkout import ecpay_checkout_form
from payments.models import (
    GatewayOperation,
    LedgerEntry,
    LedgerEntryType,
    OperationKind,
    OperationStatus,
    Payment,
    PaymentKind,
    PaymentMethod,
    PaymentStatus,
)
from payments.refunds.services import refund_notify
from payments.selectors import ledger_mismatches
from payments.services import (
    balance_credit,
    payment_complete,
    payment_start_ecpay,
    payment_transition,
)
from payments.tasks import operations_settle_unknown
from payments.tasks import refund_process as refund_process_task
from tests.back_office import back_office_sign_in, manager, reviewer
from tests.factories import OrderFactory, PaymentFactory, StaffFactory, UserFactory
from tests.payments.test_admin_payments import act
from tests.payments.test_ecpay_notifications import deliver, paid_notification, signed

pytestmark = pytest.mark.django_db


@pytest.fixture
def refunder(db) -> User:
    """A member of staff who was given the refund permission."""
    user = StaffFactory.create()
    user.user_permissions.add(Permission.objects.get(codename="refund_payment"))
    return user


@pytest.fixture
def refund(api_client_for, refunder, django_capture_on_commit_callbacks):
    """Ask for a refund as `refunder`; the refund task runs before this returns."""

    def refund(payment: Payment, amount: str | None = None, *, by: User | None = None):
        body = {"reason": "customer returned the parcel"}
        if amount is not None:
            body["amount"] = amount
        with django_capture_on_commit_callbacks(execute=True):
            return api_client_for(by or refunder).post(
                f"/api/v1/payments/{payment.public_id}/refunds/", body, format="json"
            )

    return refund


def refunds_at_provider(payment: Payment) -> Decimal:
    """What the provider says it refunded of the payment's charge (asking again is harmless)."""
    total = Decimal(0)
    for operation in payment.operations.filter(kind=OperationKind.REFUND):
        result = get_card_gateway().refund(
            RefundRequest(
                charge_id=payment.gateway_reference or "",
                amount=operation.amount,
                currency=operation.currency,
                idempotency_key=operation.idempotency_key,
            )
        )
        total += result.amount
    return total


def test_a_full_card_refund_refunds_the_payment_and_the_order_and_tells_the_customer(
    pay, refund, refunder, mailoutbox
):
    payment = pay()
    mailoutbox.clear()

    response = refund(payment)

    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["amount"] == "960.00"
    assert body["status"] == "pending"  # the refund task makes it, after the answer
    assert body["id"] == f"{payment.public_id}-refund-1"
    operation = payment.operations.get(kind=OperationKind.REFUND)
    assert operation.status == OperationStatus.SUCCEEDED
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    assert payment.refunded_amount == Decimal("960.00")
    assert payment.order.status == OrderStatus.REFUNDED
    assert refunds_at_provider(payment) == Decimal("960.00")
    [email] = mailoutbox
    assert email.to == [payment.user.email]
    assert email.subject == "Payment refunded: 960.00 TWD"
    for text in (email.body, email.alternatives[0][0]):
        assert f"refunded your payment for order {payment.order.number} in full: 960.00" in text
    assert "Refunded: 960.00 TWD" in email.body
    told = payment.events.get(type="notified_refunded")
    assert told.data == {"refund": body["id"], "messages": ["email:sent"]}
    requested = payment.events.get(type="refund_requested")
    assert requested.actor == refunder
    assert requested.data["reason"] == "customer returned the parcel"


def test_partial_refunds_add_up_and_the_last_one_refunds_the_payment(pay, refund, mailoutbox):
    payment = pay()
    mailoutbox.clear()

    first = refund(payment, "100")
    payment.refresh_from_db()
    assert first.status_code == 202
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.COMPLETED, Decimal("100"))
    assert payment.order.status == OrderStatus.PAID
    # Each refund is told of as it is made, with what it gave back and what is refunded in all.
    [email] = mailoutbox
    assert email.subject == "Payment refunded: 100.00 TWD"
    assert (
        f"We have refunded 100.00 TWD of your payment for order {payment.order.number}. "
        "In all, 100.00 TWD of the 960.00 TWD you paid is refunded."
    ) in email.body

    second = refund(payment)  # what is left
    payment.refresh_from_db()
    assert second.json()["amount"] == "860.00"
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.REFUNDED, Decimal("960"))
    assert refunds_at_provider(payment) == Decimal("960.00")
    assert len(mailoutbox) == 2
    assert mailoutbox[1].subject == "Payment refunded: 860.00 TWD"
    assert "We have refunded the last 860.00 TWD of your payment" in mailoutbox[1].body
    told = payment.events.filter(type="notified_refunded").order_by("pk")
    assert [event.data["refund"] for event in told] == [first.json()["id"], second.json()["id"]]


def test_the_order_page_says_what_was_refunded_and_where_it_went(pay, refund, customer, client):
    payment = pay()
    client.force_login(customer)
    page_url = f"/orders/{payment.order.number}/"

    refund(payment, "100")
    page = client.get(page_url).text
    assert "Paid. Thank you!" in page
    assert "100 TWD of the 960 TWD you paid has been refunded." in page
    assert "It goes back the way you paid" in page

    refund(payment)  # what is left
    page = client.get(page_url).text
    assert "Paid. Thank you!" not in page
    assert "All 960 TWD you paid has been refunded." in page
    assert "<strong>Refunded</strong>" in page
    chinese = client.get(page_url, HTTP_ACCEPT_LANGUAGE="zh-Hant").text
    assert "您支付的 960 TWD 已全額退款。" in chinese


def test_a_balance_refund_is_said_to_be_back_in_the_balance(customer, refund, client):
    payment = balance_payment(customer)
    refund(payment, "60")
    client.force_login(customer)

    page = client.get(f"/orders/{payment.order.number}/").text

    assert "60 TWD of the 960 TWD you paid has been refunded. It is back in your balance." in page
    assert "It goes back the way you paid" not in page


def test_the_order_page_tells_of_the_payment_that_paid_not_a_later_credited_one(
    pay, refund, customer, client
):
    payment = pay()
    refund(payment, "100")
    # Money for an attempt given up on arrives after the order was paid: credited, paid nothing.
    PaymentFactory.create(
        user=customer,
        kind=PaymentKind.ORDER,
        order=payment.order,
        amount=payment.amount,
        status=PaymentStatus.CREDITED,
    )
    client.force_login(customer)

    page = client.get(f"/orders/{payment.order.number}/").text

    assert "Paid on " in page
    assert "100 TWD of the 960 TWD you paid has been refunded." in page


def test_a_refund_is_told_of_once_however_often_its_task_runs(pay, refund, mailoutbox):
    payment = pay()
    refund(payment, "100")
    operation = payment.operations.get(kind=OperationKind.REFUND)
    mailoutbox.clear()

    # Redelivered after the refund was made, and again after a later refund changed the totals.
    refund_process_task.delay(operation.pk)
    refund(payment, "200")
    refund_process_task.delay(operation.pk)
    refund_notify(operation_id=operation.pk)

    assert [email.subject for email in mailoutbox] == ["Payment refunded: 200.00 TWD"]
    assert payment.events.filter(type="notified_refunded").count() == 2
    assert payment.notifications.filter(event="refunded").count() == 2
    first = payment.notifications.get(reference=operation.idempotency_key)
    assert first.details == {"refund_amount": "100.00", "refunded_amount": "100.00"}


@pytest.mark.parametrize(
    ("amount", "code", "field_message"),
    [
        ("0", "invalid", "greater than or equal to 0.01"),
        ("961", "invalid_refund", "At most 960.00 TWD is left to refund."),
        ("10.50", "invalid_refund", "TWD is refunded in steps of 1."),
    ],
)
def test_an_amount_that_does_not_fit_is_refused_and_changes_nothing(
    pay, refund, amount, code, field_message
):
    payment = pay()

    response = refund(payment, amount)

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert field_message in response.json()["fields"]["amount"][0]
    assert not payment.operations.filter(kind=OperationKind.REFUND).exists()
    payment.refresh_from_db()
    assert payment.refunded_amount == 0


def test_nothing_more_is_refunded_once_all_is_refunded(pay, refund):
    payment = pay()
    refund(payment)

    again = refund(payment, "1")

    assert again.status_code == 409
    assert again.json()["code"] == "payment_not_refundable"
    assert payment.operations.filter(kind=OperationKind.REFUND).count() == 1


def test_a_refund_the_provider_refuses_fails_and_refunds_nothing(pay, refund):
    payment = pay()
    # Someone refunded part of the charge at the provider, outside this service.
    get_card_gateway().refund(
        RefundRequest(
            charge_id=payment.gateway_reference or "",
            amount=Decimal("900"),
            currency="TWD",
            idempotency_key="made-elsewhere",
        )
    )

    response = refund(payment)

    assert response.status_code == 202
    operation = payment.operations.get(kind=OperationKind.REFUND)
    assert (operation.status, operation.error_code) == (OperationStatus.FAILED, "permanent")
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.COMPLETED, 0)
    assert payment.events.filter(type="refund_failed", is_error=True).exists()


def test_a_refund_that_cannot_reach_the_provider_is_made_once_by_the_janitor(
    pay, refund, settings, card_provider
):
    payment = pay()
    settings.CARD_PROVIDER_URL = "http://127.0.0.1:9"  # nothing listens: every try is transient

    response = refund(payment)

    assert response.status_code == 202
    operation = payment.operations.get(kind=OperationKind.REFUND)
    assert operation.status == OperationStatus.UNKNOWN  # retries spent: the janitor's to settle
    # A second refund waits for this one: what is left is not known until it is settled.
    assert refund(payment, "1").json()["code"] == "refund_in_progress"

    settings.CARD_PROVIDER_URL = card_provider
    GatewayOperation.objects.filter(pk=operation.pk).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    operations_settle_unknown()
    operations_settle_unknown()  # a second sweep finds nothing left to do

    operation.refresh_from_db()
    payment.refresh_from_db()
    assert operation.status == OperationStatus.SUCCEEDED
    assert payment.status == PaymentStatus.REFUNDED
    assert refunds_at_provider(payment) == Decimal("960.00")
    assert payment.events.filter(type="refund_applied").count() == 1


def balance_payment(customer: User) -> Payment:
    """An order paid from the balance, as the pipeline leaves it."""
    order = OrderFactory.create(user=customer)
    balance_credit(
        user_id=customer.pk, amount=Decimal("1000"), currency="TWD", entry_type="deposit"
    )
    payment = PaymentFactory.create(
        user=customer,
        kind=PaymentKind.ORDER,
        order=order,
        gateway=Gateway.BALANCE,
        method=PaymentMethod.BALANCE,
        amount=order.total,
    )
    payment_transition(payment_id=payment.pk, to=PaymentStatus.PROCESSING, event="validated")
    debit = LedgerEntry.objects.create(
        user=customer,
        payment=payment,
        entry_type=LedgerEntryType.ORDER_PAYMENT,
        amount=-order.total,
        currency="TWD",
        balance_after=Decimal("40"),
    )
    User.objects.filter(pk=customer.pk).update(balance=Decimal("40"))
    return payment_complete(payment_id=payment.pk, gateway_reference=f"ledger-{debit.pk}")


def test_balance_refunds_credit_the_balance_once_each_and_the_ledger_adds_up(customer, refund):
    payment = balance_payment(customer)

    refund(payment, "60")
    refund(payment, "900")

    customer.refresh_from_db()
    payment.refresh_from_db()
    assert customer.balance == Decimal("1000")
    assert payment.status == PaymentStatus.REFUNDED
    refunds = LedgerEntry.objects.filter(payment=payment, entry_type=LedgerEntryType.REFUND)
    assert sorted(refunds.values_list("refund_number", "amount")) == [
        (1, Decimal("60")),
        (2, Decimal("900")),
    ]
    assert ledger_mismatches() == []


def test_only_staff_with_the_refund_permission_refund(pay, refund, customer):
    payment = pay()
    plain_staff = StaffFactory.create()

    assert refund(payment, by=customer).status_code == 403  # their own payment
    assert refund(payment, by=plain_staff).status_code == 403
    assert refund(payment, by=UserFactory.create()).status_code == 404  # someone else's
    assert not payment.operations.filter(kind=OperationKind.REFUND).exists()


@pytest.mark.parametrize(
    ("kind", "gateway", "method", "status"),
    [
        (PaymentKind.ORDER, Gateway.CARD, PaymentMethod.CARD, PaymentStatus.PENDING),
        # ATM transfers are refunded by bank transfer, outside ECPay's API.
        (PaymentKind.ORDER, Gateway.ECPAY, PaymentMethod.ATM, PaymentStatus.COMPLETED),
        (PaymentKind.ORDER, Gateway.WALLET, PaymentMethod.WALLET, PaymentStatus.COMPLETED),
        (PaymentKind.DEPOSIT, Gateway.CARD, PaymentMethod.CARD, PaymentStatus.COMPLETED),
    ],
)
def test_payments_that_cannot_be_refunded_here_are_refused_with_409(
    refund, kind, gateway, method, status
):
    customer = UserFactory.create()
    order = OrderFactory.create(user=customer) if kind == PaymentKind.ORDER else None
    payment = PaymentFactory.create(
        user=customer,
        kind=kind,
        order=order,
        gateway=gateway,
        method=method,
        amount=Decimal("960"),
    )
    Payment.objects.filter(pk=payment.pk).update(status=status)

    response = refund(payment)

    assert response.status_code == 409
    assert response.json()["code"] == "payment_not_refundable"
    assert not payment.operations.exists()


@pytest.fixture
def ecpay_card_payment(customer, client, settings, live_server, django_capture_on_commit_callbacks):
    """An order paid on ECPay's (simulated) card page, as its notification leaves it."""
    settings.ECPAY_BASE_URL = f"{live_server.url}/simulators/ecpay"
    set_faults(drop_notifications=True)  # the test delivers the notification itself
    order = OrderFactory.create(user=customer)
    payment = payment_start_ecpay(
        user=customer,
        kind=PaymentKind.ORDER,
        order=order,
        amount=order.total,
        currency="TWD",
        method=PaymentMethod.CARD,
    )
    form = ecpay_checkout_form(payment=payment, method=EcpayMethod.CREDIT)
    client.post(reverse("ecpay_simulator:checkout"), form.fields)
    trade = SimulatedEcpayTrade.objects.get(merchant_trade_no=payment.merchant_trade_no)
    client.post(reverse("ecpay_simulator:pay", args=[trade.trade_no]))
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, signed(paid_notification(payment, TradeNo=trade.trade_no)))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED
    return payment


def test_an_ecpay_card_payment_is_refunded_through_ecpay(ecpay_card_payment, refund):
    first = refund(ecpay_card_payment, "100")
    rest = refund(ecpay_card_payment)

    assert (first.status_code, rest.status_code) == (202, 202)
    ecpay_card_payment.refresh_from_db()
    assert ecpay_card_payment.status == PaymentStatus.REFUNDED
    trade = SimulatedEcpayTrade.objects.get(merchant_trade_no=ecpay_card_payment.merchant_trade_no)
    assert trade.refunded_amount == Decimal("960")


def test_an_ecpay_refund_that_cannot_reach_ecpay_fails_and_may_be_asked_again(
    ecpay_card_payment, refund, settings
):
    live = settings.ECPAY_BASE_URL
    settings.ECPAY_BASE_URL = "http://127.0.0.1:9"  # nothing listens: never sent

    refund(ecpay_card_payment, "100")

    operation = ecpay_card_payment.operations.get(kind=OperationKind.REFUND)
    assert (operation.status, operation.error_code) == (OperationStatus.FAILED, "retries")
    settings.ECPAY_BASE_URL = live
    assert refund(ecpay_card_payment, "100").status_code == 202
    ecpay_card_payment.refresh_from_db()
    assert ecpay_card_payment.refunded_amount == Decimal("100")


def test_an_ecpay_refund_with_a_lost_answer_is_never_sent_again_and_asks_for_a_person(
    ecpay_card_payment, refund, settings
):
    # An answer that is not DoAction's (here a 404 page): what ECPay did cannot be told from it.
    settings.ECPAY_BASE_URL = settings.ECPAY_BASE_URL.replace("/simulators/ecpay", "/not-ecpay")

    refund(ecpay_card_payment, "100")

    operation = ecpay_card_payment.operations.get(kind=OperationKind.REFUND)
    assert operation.status == OperationStatus.UNKNOWN
    ecpay_card_payment.refresh_from_db()
    assert ecpay_card_payment.needs_review
    GatewayOperation.objects.filter(pk=operation.pk).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    operations_settle_unknown()  # the janitor leaves it to the person
    operation.refresh_from_db()
    assert operation.status == OperationStatus.UNKNOWN


@pytest.fixture
def unknown_ecpay_refund(ecpay_card_payment, refund, settings) -> GatewayOperation:
    """A refund of 100 TWD sent to ECPay whose answer was lost: only a person can tell."""
    real_ecpay = settings.ECPAY_BASE_URL
    settings.ECPAY_BASE_URL = real_ecpay.replace("/simulators/ecpay", "/not-ecpay")
    refund(ecpay_card_payment, "100")
    settings.ECPAY_BASE_URL = real_ecpay
    operation = GatewayOperation.objects.get(payment=ecpay_card_payment, kind=OperationKind.REFUND)
    assert operation.status == OperationStatus.UNKNOWN
    return operation


def settle_checked(refund_key: str, outcome: str, by: User) -> None:
    call_command(
        "settle_ecpay_refund", refund_key, outcome, "--by", by.email, "--note", "seen in ECPay"
    )


def test_an_unknown_ecpay_refund_found_made_counts_and_tells_the_customer(
    unknown_ecpay_refund, refunder, mailoutbox, django_capture_on_commit_callbacks
):
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        settle_checked(unknown_ecpay_refund.idempotency_key, "--made", refunder)

    unknown_ecpay_refund.refresh_from_db()
    payment = unknown_ecpay_refund.payment
    payment.refresh_from_db()
    assert unknown_ecpay_refund.status == OperationStatus.SUCCEEDED
    assert payment.refunded_amount == Decimal("100.00")
    [email] = mailoutbox
    assert email.subject == "Payment refunded: 100.00 TWD"
    checked = payment.events.get(type="refund_checked")
    assert (checked.actor, checked.data["made"], checked.data["note"]) == (
        refunder,
        True,
        "seen in ECPay",
    )


def test_an_unknown_ecpay_refund_found_not_made_fails_and_may_be_asked_again(
    unknown_ecpay_refund, refund, refunder
):
    payment = unknown_ecpay_refund.payment
    settle_checked(unknown_ecpay_refund.idempotency_key, "--not-made", refunder)

    unknown_ecpay_refund.refresh_from_db()
    payment.refresh_from_db()
    assert unknown_ecpay_refund.status == OperationStatus.FAILED
    assert payment.refunded_amount == Decimal("0")
    again = refund(payment, "100")  # no longer held back by the unknown one
    assert again.status_code == 202, again.json()
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("100.00")


def test_only_an_unknown_ecpay_refund_is_settled_by_hand_and_only_by_whoever_may_refund(
    unknown_ecpay_refund, refunder, pay, refund
):
    card_refund = refund(pay(), "100").json()["id"]  # settled by the provider's answer
    reviewer_only = StaffFactory.create()

    for refund_key, by in (
        (unknown_ecpay_refund.idempotency_key, reviewer_only),
        (card_refund, refunder),
        ("pay_nope-refund-1", refunder),
    ):
        with pytest.raises(CommandError) as refused:
            settle_checked(refund_key, "--made", by)
        assert refused.value.returncode == 2

    settle_checked(unknown_ecpay_refund.idempotency_key, "--not-made", refunder)
    with pytest.raises(CommandError, match="Only an ECPay refund whose outcome is unknown"):
        settle_checked(unknown_ecpay_refund.idempotency_key, "--made", refunder)
    unknown_ecpay_refund.refresh_from_db()
    assert unknown_ecpay_refund.status == OperationStatus.FAILED


def test_a_manager_settles_an_unknown_ecpay_refund_from_the_payment_s_page(
    unknown_ecpay_refund, client, mailoutbox, django_capture_on_commit_callbacks
):
    payment = unknown_ecpay_refund.payment
    page_url = reverse("admin:payments_payment_change", args=[payment.pk])
    back_office_sign_in(client, reviewer())
    assert "settle_unknown_refund" not in client.get(page_url).text  # reviewers only look
    staff = manager()
    back_office_sign_in(client, staff)
    assert 'value="settle_unknown_refund"' in client.get(page_url).text
    mailoutbox.clear()

    asked = act(client, "settle_unknown_refund", [payment])
    assert "was lost: look it up in" in asked.text
    with django_capture_on_commit_callbacks(execute=True):
        act(client, "settle_unknown_refund", [payment], outcome="made", note="seen, R 100")

    unknown_ecpay_refund.refresh_from_db()
    payment.refresh_from_db()
    assert unknown_ecpay_refund.status == OperationStatus.SUCCEEDED
    assert payment.refunded_amount == Decimal("100.00")
    assert payment.events.get(type="refund_checked").actor == staff
    assert len(mailoutbox) == 1
    assert 'value="settle_unknown_refund"' not in client.get(page_url).text


def test_settling_needs_a_payment_with_an_unknown_ecpay_refund(client, pay):
    payment = pay()
    back_office_sign_in(client, manager())

    act(client, "settle_unknown_refund", [payment], outcome="made", note="nothing to settle")

    assert not payment.events.filter(type="refund_checked").exists()
    assert not payment.operations.filter(kind=OperationKind.REFUND).exists()


def test_the_refunds_of_a_payment_are_listed_for_its_owner_and_staff(
    pay, refund, customer, api_client_for, refunder
):
    payment = pay()
    refund(payment, "100")
    url = f"/api/v1/payments/{payment.public_id}/refunds/"

    own = api_client_for(customer).get(url)
    assert own.status_code == 200
    assert [(r["amount"], r["status"]) for r in own.json()["results"]] == [("100.00", "succeeded")]
    assert api_client_for(refunder).get(url).json() == own.json()
    assert api_client_for(UserFactory.create()).get(url).status_code == 404
