"""POST /api/v1/payments/ for ECPay and the balance, `next_action`, and cancelling a payment."""

from decimal import Decimal
from urllib.parse import urlparse

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.models import User
from gateways.ecpay import check_mac_value
from orders.models import Order, OrderStatus
from payments.models import Payment, PaymentStatus
from payments.services import balance_credit
from tests.factories import (
    OrderFactory,
    PaymentFactory,
    StaffFactory,
    UserFactory,
    order_payment_body,
)
from tests.payments.test_ecpay_notifications import (
    NOTIFY,
    PAYMENT_INFO,
    deliver,
    paid_notification,
    signed,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(customer: User) -> Order:
    return OrderFactory.create(user=customer)


def ecpay_payment(order: Order, **overrides) -> dict:
    return order_payment_body(order, **{"gateway": "ecpay", **overrides})


def test_an_ecpay_payment_sends_the_customer_to_a_page_that_posts_the_signed_form(
    customer, order, api_client_for, settings
):
    response = api_client_for(customer).post(
        "/api/v1/payments/", ecpay_payment(order, method="atm"), format="json"
    )

    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["gateway"], body["method"], body["status"]) == ("ecpay", "atm", "pending")
    action = body["next_action"]
    assert action["type"] == "redirect_to_url"
    assert action["url"].startswith(settings.SITE_URL)
    # The page needs no session: the app's browser has none of ours.
    page = Client().get(urlparse(action["url"]).path)
    assert page.status_code == 200
    form = page.context["checkout_form"]
    payment = Payment.objects.get(public_id=body["id"])
    assert form.fields["MerchantTradeNo"] == payment.merchant_trade_no
    assert form.fields["ChoosePayment"] == "ATM"
    assert form.fields["TotalAmount"] == "960"
    fields = {name: value for name, value in form.fields.items() if name != "CheckMacValue"}
    assert form.fields["CheckMacValue"] == check_mac_value(
        fields, hash_key=settings.ECPAY_HASH_KEY, hash_iv=settings.ECPAY_HASH_IV
    )


def test_once_ecpay_issues_an_atm_account_the_next_action_is_to_pay_with_it(
    customer, order, api_client_for, client, django_capture_on_commit_callbacks
):
    created = api_client_for(customer).post(
        "/api/v1/payments/", ecpay_payment(order, method="atm"), format="json"
    )
    payment = Payment.objects.get(public_id=created.json()["id"])
    fields = paid_notification(
        payment, RtnCode="2", RtnMsg="Get VirtualAccount Succeeded", PaymentType="ATM_TAISHIN"
    )
    fields.update(BankCode="812", vAccount="9103522850", ExpireDate="2026/11/25")
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, signed(fields), url=PAYMENT_INFO)

    body = api_client_for(customer).get(f"/api/v1/payments/{payment.public_id}/").json()

    assert body["next_action"] == {
        "type": "pay_with_code",
        "code": "9103522850",
        "bank": "812",
        # The end of the day ECPay gave, in the site's zone like every other time in the answer.
        "expires_at": "2026-11-25T23:59:59+08:00",
    }
    assert body["created_at"].endswith("+08:00")
    # The page that sends the browser to ECPay is for a payment not started there yet.
    assert Client().get(f"/checkout/payments/{payment.public_id}/").status_code == 404


def test_an_ecpay_deposit_tops_up_the_balance_when_ecpay_says_it_is_paid(
    customer, api_client_for, client, django_capture_on_commit_callbacks
):
    response = api_client_for(customer).post(
        "/api/v1/payments/",
        {"kind": "deposit", "amount": "500", "currency": "TWD", "gateway": "ecpay"},
        format="json",
    )
    assert response.status_code == 202, response.json()
    page = Client().get(urlparse(response.json()["next_action"]["url"]).path)
    assert page.context["checkout_form"].fields["ItemName"] == "Balance top-up"
    payment = Payment.objects.get(public_id=response.json()["id"])

    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, signed(paid_notification(payment)), url=NOTIFY) == "1|OK"

    customer.refresh_from_db()
    assert customer.balance == Decimal("500")
    assert (
        api_client_for(customer).get(f"/api/v1/payments/{payment.public_id}/").json()["next_action"]
        is None
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": "960.50"}, "amount"),  # not the order's total
        ({"method": "wallet"}, "method"),  # not a method ECPay's page takes
        ({"gateway": "paypal"}, "gateway"),
        ({"gateway": "card"}, "card"),  # a card payment needs the card
        ({"gateway": "balance", "method": "atm"}, "method"),
    ],
)
def test_a_payment_request_that_does_not_fit_its_gateway_is_refused_with_the_field(
    customer, order, api_client_for, overrides, field
):
    response = api_client_for(customer).post(
        "/api/v1/payments/", ecpay_payment(order, **overrides), format="json"
    )

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not Payment.objects.exists()


def test_the_balance_pays_an_order_through_the_pipeline(
    customer, order, api_client_for, django_capture_on_commit_callbacks
):
    balance_credit(
        user_id=customer.pk, amount=Decimal("1000"), currency="TWD", entry_type="deposit"
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(customer).post(
            "/api/v1/payments/", ecpay_payment(order, gateway="balance"), format="json"
        )

    assert response.status_code == 202, response.json()
    assert response.json()["next_action"] is None
    payment = Payment.objects.get(public_id=response.json()["id"])
    customer.refresh_from_db()
    order.refresh_from_db()
    assert (payment.status, order.status) == (PaymentStatus.COMPLETED, OrderStatus.PAID)
    assert customer.balance == Decimal("40")


def test_a_balance_too_low_is_refused_with_409_and_no_payment(customer, order, api_client_for):
    response = api_client_for(customer).post(
        "/api/v1/payments/", ecpay_payment(order, gateway="balance"), format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_balance"
    assert not Payment.objects.exists()


def test_the_balance_does_not_pay_a_deposit(customer, api_client_for):
    response = api_client_for(customer).post(
        "/api/v1/payments/",
        {"kind": "deposit", "amount": "500", "currency": "TWD", "gateway": "balance"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["fields"] == {"kind": ["The balance pays orders only."]}


def test_the_owner_cancels_a_pending_payment_and_ecpay_money_arriving_later_is_credited(
    customer, order, api_client_for, client, django_capture_on_commit_callbacks
):
    created = api_client_for(customer).post(
        "/api/v1/payments/", ecpay_payment(order), format="json"
    )
    public_id = created.json()["id"]

    response = api_client_for(customer).post(f"/api/v1/payments/{public_id}/cancel/")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["next_action"]) == ("cancelled", None)
    payment = Payment.objects.get(public_id=public_id)
    event = payment.events.get(type="cancelled")
    assert event.actor == customer
    # The customer paid on ECPay's page anyway: the money is not lost, it goes to their balance
    # and a person looks at it.
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, signed(paid_notification(payment)), url=NOTIFY)
    payment.refresh_from_db()
    customer.refresh_from_db()
    assert (payment.status, payment.needs_review) == (PaymentStatus.CREDITED, True)
    assert customer.balance == payment.amount


def test_a_payment_is_not_cancelled_while_ecpay_s_notification_waits_for_its_worker(
    customer, order, api_client_for, client, django_capture_on_commit_callbacks
):
    created = api_client_for(customer).post(
        "/api/v1/payments/", ecpay_payment(order), format="json"
    )
    payment = Payment.objects.get(public_id=created.json()["id"])
    with django_capture_on_commit_callbacks() as queued:
        assert deliver(client, signed(paid_notification(payment)), url=NOTIFY) == "1|OK"

    response = api_client_for(customer).post(f"/api/v1/payments/{payment.public_id}/cancel/")

    assert response.status_code == 409
    assert response.json()["code"] == "payment_being_settled"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    # Once the worker has applied it, the payment is paid and that is what the customer sees.
    with django_capture_on_commit_callbacks(execute=True):
        for apply in queued:
            apply()
    payment.refresh_from_db()
    assert (payment.status, payment.needs_review) == (PaymentStatus.COMPLETED, False)


def test_a_payment_that_moved_on_is_not_cancelled(customer, api_client_for):
    payment = PaymentFactory.create(user=customer, status=PaymentStatus.COMPLETED)

    response = api_client_for(customer).post(f"/api/v1/payments/{payment.public_id}/cancel/")

    assert response.status_code == 409
    assert response.json()["code"] == "illegal_transition"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.COMPLETED


def test_only_the_owner_or_staff_with_permission_cancel(customer, api_client_for):
    payment = PaymentFactory.create(user=customer)
    url = f"/api/v1/payments/{payment.public_id}/cancel/"
    staff = StaffFactory.create()

    assert api_client_for(UserFactory.create()).post(url).status_code == 404
    assert api_client_for(staff).post(url).status_code == 403
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING

    staff.user_permissions.add(Permission.objects.get(codename="change_payment"))
    staff = User.objects.get(pk=staff.pk)  # permissions are cached on the instance
    assert api_client_for(staff).post(url).json()["status"] == "cancelled"
