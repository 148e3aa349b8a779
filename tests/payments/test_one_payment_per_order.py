"""One order, one payment in flight: the order's claim (`Payment.claimed_order`), taken by the
database, let go of only when no money can have moved; and money that arrives anyway credited
to the customer's balance, never kept silently."""

from decimal import Decimal
from urllib.parse import urlparse

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from accounts.models import User
from gateways.card.simulator import cards
from gateways.models import Gateway
from orders.models import Order, OrderStatus, PaymentHeader
from payments.exceptions import OrderAlreadyPaid, OrderPaymentInProgress
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
from payments.selectors import ledger_mismatches
from payments.services import (
    payment_fail,
    payment_reprocess,
    payment_start_ecpay,
    payment_transition,
)
from payments.tasks import payment_process, payment_validate
from tests.factories import (
    OrderFactory,
    PaymentFactory,
    card_payment_body,
    fund,
    order_payment_body,
)
from tests.payments.test_ecpay_notifications import (
    PAYMENT_INFO,
    deliver,
    paid_notification,
    signed,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(customer: User) -> Order:
    return OrderFactory.create(user=customer)


def ecpay_body(order: Order, method: str = "atm") -> dict:
    return order_payment_body(order, gateway="ecpay", method=method)


def start_on_ecpay(order: Order, method: str = PaymentMethod.ATM) -> Payment:
    """What the checkout does when the customer picks an ECPay method."""
    return payment_start_ecpay(
        user=order.user,
        kind=PaymentKind.ORDER,
        order=order,
        amount=order.total,
        currency="TWD",
        method=method,
    )


def issue_atm_account(client: Client, payment: Payment, applied) -> None:
    fields = paid_notification(payment, RtnCode="2", RtnMsg="Get VirtualAccount Succeeded")
    fields.update(BankCode="812", vAccount="9103522850", ExpireDate="2099/12/31")
    with applied(execute=True):
        assert deliver(client, signed(fields), url=PAYMENT_INFO) == "1|OK"


def send_to_ecpay(payment: Payment) -> None:
    """The customer's browser opens the page that posts the signed form to ECPay."""
    page = Client().get(f"/checkout/payments/{payment.public_id}/")
    assert page.status_code == 200


# --- The claim -----------------------------------------------------------------------------


def test_a_second_payment_while_one_is_under_way_answers_409_naming_it(
    customer, order, api_client_for, no_pipeline, card_provider
):
    first = api_client_for(customer).post(
        "/api/v1/payments/", card_payment_body(order), format="json"
    )
    assert first.status_code == 202

    second = api_client_for(customer).post(
        "/api/v1/payments/", card_payment_body(order), format="json"
    )

    assert second.status_code == 409
    assert second.json()["code"] == "order_payment_in_progress"
    assert second.json()["payment"] == first.json()["id"]
    assert order.payments.count() == 1


def test_the_database_refuses_a_second_payment_holding_one_order(order):
    PaymentFactory.create(user=order.user, kind=PaymentKind.ORDER, order=order)

    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(
            user=order.user,
            kind=PaymentKind.ORDER,
            order=order,
            claimed_order=order,
            gateway=Gateway.CARD,
            method=PaymentMethod.CARD,
            amount=order.total,
        )


def test_the_database_refuses_a_claim_by_a_payment_that_let_go(order):
    payment = PaymentFactory.create(
        user=order.user, kind=PaymentKind.ORDER, order=order, status=PaymentStatus.CANCELLED
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(claimed_order=order)


def test_an_ecpay_payment_never_sent_to_ecpay_gives_way_to_another(
    customer, order, api_client_for, no_pipeline, card_provider
):
    ecpay = api_client_for(customer).post("/api/v1/payments/", ecpay_body(order), format="json")

    card = api_client_for(customer).post(
        "/api/v1/payments/", card_payment_body(order), format="json"
    )

    assert card.status_code == 202
    abandoned = Payment.objects.get(public_id=ecpay.json()["id"])
    assert (abandoned.status, abandoned.claimed_order_id) == (PaymentStatus.CANCELLED, None)
    # Its redirect is never handed out now: ECPay cannot take money for it.
    assert Client().get(urlparse(ecpay.json()["next_action"]["url"]).path).status_code == 404


def test_an_ecpay_payment_the_customer_was_sent_to_ecpay_with_keeps_the_order(
    customer, order, api_client_for, no_pipeline
):
    ecpay = api_client_for(customer).post("/api/v1/payments/", ecpay_body(order), format="json")
    send_to_ecpay(Payment.objects.get(public_id=ecpay.json()["id"]))
    fund(customer, "960")

    balance = api_client_for(customer).post(
        "/api/v1/payments/", order_payment_body(order, gateway="balance"), format="json"
    )

    assert balance.status_code == 409
    assert balance.json()["payment"] == ecpay.json()["id"]
    assert Payment.objects.get(public_id=ecpay.json()["id"]).sent_to_gateway_at is not None


def test_a_declined_card_lets_go_of_the_order_and_the_customer_pays_again(customer, order, pay):
    declined = pay(cards.DECLINE, order=order)
    assert (declined.status, declined.claimed_order_id) == (PaymentStatus.FAILED, None)

    paid = pay(cards.APPROVE, order=order)

    assert paid.status == PaymentStatus.COMPLETED
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_a_dead_letter_that_took_the_money_keeps_the_order_until_a_person_looks(
    customer, order, pay, api_client_for, card_provider
):
    paid = pay(cards.APPROVE, order=order)
    # As if the update step had crashed after the charge: failed, the money taken.
    Payment.objects.filter(pk=paid.pk).update(status=PaymentStatus.PROCESSING)
    PaymentHeader.objects.filter(order=order).delete()
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PENDING_PAYMENT)
    payment_fail(payment_id=paid.pk, reason="update step crashed", needs_review=True)

    again = api_client_for(customer).post(
        "/api/v1/payments/", card_payment_body(order), format="json"
    )

    assert again.status_code == 409
    assert again.json()["payment"] == paid.public_id
    payment_reprocess(payment_id=paid.pk)
    payment_process.delay(paid.pk)
    paid.refresh_from_db()
    assert paid.status == PaymentStatus.COMPLETED
    charges = GatewayOperation.objects.filter(payment=paid, kind=OperationKind.CHARGE)
    assert list(charges.values_list("status", flat=True)) == [OperationStatus.SUCCEEDED]


def test_a_dead_letter_whose_order_was_paid_another_way_is_not_reprocessed(customer, order, pay):
    failed = PaymentFactory.create(user=customer, kind=PaymentKind.ORDER, order=order)
    payment_transition(payment_id=failed.pk, to=PaymentStatus.PROCESSING, event="validated")
    payment_fail(payment_id=failed.pk, reason="gave up after 3 retries", needs_review=True)
    paid = pay(cards.APPROVE, order=order)

    with pytest.raises(OrderAlreadyPaid) as refused:
        payment_reprocess(payment_id=failed.pk)

    assert refused.value.extra["payment"] == paid.public_id
    failed.refresh_from_db()
    assert (failed.status, failed.needs_review) == (PaymentStatus.FAILED, True)


def test_a_payment_without_the_order_s_claim_is_never_charged(customer, order, card_provider):
    # One made before claims existed, say, beside the payment holding the order.
    PaymentFactory.create(user=customer, kind=PaymentKind.ORDER, order=order)
    stray = PaymentFactory.create(
        user=customer, kind=PaymentKind.ORDER, order=order, amount=order.total, card_token="tok"
    )
    assert stray.claimed_order_id is None

    payment_validate.delay(stray.pk)

    stray.refresh_from_db()
    assert stray.status == PaymentStatus.FAILED
    assert "another payment holds the order" in stray.failure_reason
    assert not GatewayOperation.objects.filter(payment=stray).exists()


# --- Finding 2: "Pay another way" after an ATM account was issued ----------------------------


def test_paying_another_way_needs_the_atm_payment_cancelled_and_its_late_money_is_credited(
    customer, order, client, django_capture_on_commit_callbacks, mailoutbox
):
    atm = start_on_ecpay(order, PaymentMethod.ATM)
    send_to_ecpay(atm)
    issue_atm_account(client, atm, django_capture_on_commit_callbacks)
    fund(customer, "960")
    client.force_login(customer)

    # "Pay another way": the checkout shows the ATM account and what cancelling means.
    page = client.get(f"/checkout/{order.number}/")
    assert page.context["under_way"] == atm
    assert "added to your balance" in page.content.decode()
    refused = client.post(f"/checkout/{order.number}/pay-from-balance/")
    assert refused.status_code == 409
    assert not order.payments.filter(gateway=Gateway.BALANCE).exists()

    # The customer chooses knowingly: cancel the ATM payment, then pay from the balance.
    assert client.post(f"/checkout/{order.number}/cancel/").status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/checkout/{order.number}/pay-from-balance/").status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID

    # The customer pays the ATM account at the bank all the same.
    atm.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, signed(paid_notification(atm, PaymentType="ATM_TAISHIN"))) == "1|OK"

    atm.refresh_from_db()
    customer.refresh_from_db()
    assert (atm.status, atm.needs_review) == (PaymentStatus.CREDITED, True)
    assert customer.balance == Decimal("960")  # 960 in, 960 paid the order, 960 credited
    credited = LedgerEntry.objects.get(payment=atm)
    assert (credited.entry_type, credited.amount) == (
        LedgerEntryType.CREDITED_PAYMENT,
        Decimal("960"),
    )
    assert PaymentHeader.objects.get(order=order).payment.gateway == Gateway.BALANCE
    assert Payment.objects.filter(order=order, status=PaymentStatus.COMPLETED).count() == 1
    assert ledger_mismatches() == []
    assert mailoutbox[-1].subject.startswith("Payment credited to your balance")

    # ECPay delivers the same notification again: nothing more is credited.
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, signed(paid_notification(atm, PaymentType="ATM_TAISHIN"))) == "1|OK"
    customer.refresh_from_db()
    assert customer.balance == Decimal("960")


def test_the_order_page_shows_money_that_was_credited(customer, order, client):
    payment = PaymentFactory.create(
        user=customer, kind=PaymentKind.ORDER, order=order, status=PaymentStatus.CREDITED
    )
    client.force_login(customer)

    page = client.get(f"/orders/{order.number}/")

    assert page.context["payment"] == payment
    assert "added to your balance" in page.content.decode()


def test_a_cancel_race_on_the_checkout_page_answers_409_and_shows_the_payment(
    customer, order, client
):
    atm = start_on_ecpay(order, PaymentMethod.ATM)
    send_to_ecpay(atm)
    client.force_login(customer)

    # A second tab still shows the methods and posts one.
    response = client.post(f"/checkout/{order.number}/pay/", {"method": "cvs"})

    assert response.status_code == 409
    assert response.context["under_way"] == atm
    assert order.payments.count() == 1


def test_a_payment_being_processed_cannot_be_cancelled_from_the_checkout(customer, order, client):
    payment = PaymentFactory.create(
        user=customer,
        kind=PaymentKind.ORDER,
        order=order,
        amount=order.total,
        status=PaymentStatus.PROCESSING,
    )
    client.force_login(customer)

    page = client.get(f"/checkout/{order.number}/")
    client.post(f"/checkout/{order.number}/cancel/")

    assert "being processed" in page.content.decode()
    assert 'action="/checkout/' + order.number + '/cancel/"' not in page.content.decode()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PROCESSING


# --- Money that arrives for an order it cannot pay -----------------------------------------


def test_a_card_charge_for_an_order_no_longer_payable_is_credited(customer, order, pay):
    payment = PaymentFactory.create(
        user=customer,
        kind=PaymentKind.ORDER,
        order=order,
        amount=order.total,
        card_token="tok",
        status=PaymentStatus.PROCESSING,
    )
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.CANCELLED)
    GatewayOperation.objects.create(
        payment=payment,
        gateway=Gateway.CARD,
        kind=OperationKind.CHARGE,
        idempotency_key="k-1",
        amount=payment.amount,
        status=OperationStatus.SUCCEEDED,
        external_id="ch_1",
    )

    from payments.pipeline import update

    update(payment.pk)

    payment.refresh_from_db()
    customer.refresh_from_db()
    assert (payment.status, payment.needs_review, payment.claimed_order_id) == (
        PaymentStatus.CREDITED,
        True,
        None,
    )
    assert customer.balance == order.total
    assert not PaymentHeader.objects.filter(order=order).exists()
    assert ledger_mismatches() == []


def test_a_second_request_for_a_paid_order_is_told_who_paid_it(customer, order, pay):
    paid = pay(cards.APPROVE, order=order)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PENDING_PAYMENT)  # a stale read

    with pytest.raises(OrderAlreadyPaid) as refused:
        start_on_ecpay(order, PaymentMethod.CARD)

    assert refused.value.extra["payment"] == paid.public_id


def test_paying_a_paid_order_through_the_api_answers_409_naming_the_payment(
    customer, order, pay, api_client_for
):
    paid = pay(cards.APPROVE, order=order)

    for body in (card_payment_body(order), order_payment_body(order, gateway="balance")):
        again = api_client_for(customer).post("/api/v1/payments/", body, format="json")

        assert again.status_code == 409
        assert again.json()["code"] == "order_already_paid"
        assert again.json()["payment"] == paid.public_id
    assert order.payments.count() == 1


def test_paying_a_cancelled_order_is_refused_as_not_waiting_for_payment(
    customer, order, api_client_for
):
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.CANCELLED)

    refused = api_client_for(customer).post(
        "/api/v1/payments/", card_payment_body(order), format="json"
    )

    assert refused.status_code == 400
    assert refused.json()["fields"] == {"order": ["This order is not waiting for payment."]}


def test_the_refusal_names_the_payment_under_way(customer, order):
    first = start_on_ecpay(order, PaymentMethod.ATM)
    send_to_ecpay(first)

    with pytest.raises(OrderPaymentInProgress) as refused:
        start_on_ecpay(order, PaymentMethod.CVS)

    assert refused.value.extra == {"payment": first.public_id}
