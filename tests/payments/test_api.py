"""POST /api/v1/payments/ (card) and GET /api/v1/payments/{id}/: validation and access."""

from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import User
from gateways.card.simulator import cards
from orders.models import Order, OrderStatus
from payments.models import Payment
from tests.factories import OrderFactory, PaymentFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def card(number: str = cards.APPROVE, **overrides) -> dict:
    return {
        "number": number,
        "exp_month": 12,
        "exp_year": timezone.localdate().year + 2,
        "cvc": "123",
        **overrides,
    }


def order_payment(order: Order, /, **overrides) -> dict:
    return {
        "kind": "order",
        "order": order.number,
        "amount": str(order.total),
        "currency": order.currency,
        "card": card(),
        **overrides,
    }


@pytest.fixture
def order(customer: User) -> Order:
    return OrderFactory.create(user=customer)


def test_a_card_payment_is_accepted_with_202_and_keeps_only_token_brand_last4_and_expiry(
    customer, order, api_client_for, card_provider, no_pipeline
):
    response = api_client_for(customer).post(
        "/api/v1/payments/", order_payment(order), format="json"
    )

    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "pending"
    assert body["amount"] == "960.00"
    assert body["order"] == order.number
    assert body["card"] == {
        "brand": "visa",
        "last4": "4242",
        "exp_month": 12,
        "exp_year": timezone.localdate().year + 2,
    }
    payment = Payment.objects.get(public_id=body["id"])
    assert payment.card_token.startswith("tok_")
    assert no_pipeline == [payment.pk]


def test_a_deposit_needs_no_order(customer, api_client_for, card_provider, no_pipeline):
    response = api_client_for(customer).post(
        "/api/v1/payments/",
        {"kind": "deposit", "amount": "500", "currency": "TWD", "card": card()},
        format="json",
    )

    assert response.status_code == 202, response.json()
    assert response.json()["kind"] == "deposit"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"card": card("4242424242424241")}, "card.number"),
        ({"card": card("4242")}, "card.number"),
        ({"card": card(exp_year=2020)}, "card.exp_year"),
        ({"card": card(exp_month=13)}, "card.exp_month"),
        ({"card": card(cvc="12")}, "card.cvc"),
        ({"card": card(cvc="12a")}, "card.cvc"),
        ({"amount": "0"}, "amount"),
        ({"amount": "-960"}, "amount"),
        ({"amount": "959.99"}, "amount"),
        ({"amount": "960.001"}, "amount"),
        ({"amount": "ten"}, "amount"),
        ({"currency": "EUR"}, "currency"),
        ({"order": "000000000000"}, "order"),
        ({"kind": "withdrawal"}, "kind"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(
    customer, order, api_client_for, card_provider, no_pipeline, change, field
):
    response = api_client_for(customer).post(
        "/api/v1/payments/", order_payment(order, **change), format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["fields"], body
    assert not Payment.objects.exists()


def test_an_order_of_someone_else_is_no_such_order(customer, api_client_for, card_provider):
    someone_elses = OrderFactory.create()

    response = api_client_for(customer).post(
        "/api/v1/payments/", order_payment(someone_elses), format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"] == {"order": ["No such order."]}


def test_a_paid_order_cannot_be_paid_again(customer, api_client_for, card_provider):
    paid = OrderFactory.create(user=customer, status=OrderStatus.PAID)

    response = api_client_for(customer).post(
        "/api/v1/payments/", order_payment(paid), format="json"
    )

    # As when a payment loses the race for the order: 409, not a 400 about the request.
    assert response.status_code == 409
    assert response.json()["code"] == "order_already_paid"


def test_a_deposit_in_another_currency_than_the_balance_is_refused(
    customer, api_client_for, card_provider
):
    response = api_client_for(customer).post(
        "/api/v1/payments/",
        {"kind": "deposit", "amount": "5", "currency": "USD", "card": card()},
        format="json",
    )

    assert response.status_code == 400
    assert "currency" in response.json()["fields"]


def test_a_malformed_body_is_a_400(customer, api_client_for):
    response = api_client_for(customer).post(
        "/api/v1/payments/", "{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_anonymous_callers_are_refused(client, order):
    response = client.post(
        "/api/v1/payments/", order_payment(order), content_type="application/json"
    )

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_the_provider_down_is_a_503_and_creates_nothing(customer, order, api_client_for, settings):
    settings.CARD_PROVIDER_URL = "http://127.0.0.1:9/simulators/card"

    response = api_client_for(customer).post(
        "/api/v1/payments/", order_payment(order), format="json"
    )

    assert response.status_code == 503
    assert response.json()["code"] == "gateway_unavailable"
    assert not Payment.objects.exists()


def test_the_owner_sees_the_payment(customer, api_client_for):
    payment = PaymentFactory.create(user=customer, card_brand="visa", card_last4="4242")

    response = api_client_for(customer).get(f"/api/v1/payments/{payment.public_id}/")

    assert response.status_code == 200
    assert response.json()["id"] == payment.public_id
    assert response.json()["amount"] == "500.00"


def test_another_customer_gets_404_and_staff_see_it(customer, api_client_for):
    payment = PaymentFactory.create(user=customer)
    stranger = UserFactory.create()
    staff = StaffFactory.create()

    assert api_client_for(stranger).get(f"/api/v1/payments/{payment.public_id}/").status_code == 404
    assert api_client_for(staff).get(f"/api/v1/payments/{payment.public_id}/").status_code == 200


def test_staff_without_the_view_permission_see_only_their_own(customer, api_client_for):
    payment = PaymentFactory.create(user=customer)
    bare_staff = api_client_for(UserFactory.create(is_staff=True))

    assert bare_staff.get(f"/api/v1/payments/{payment.public_id}/").status_code == 404
    assert bare_staff.get("/api/v1/payments/").json()["results"] == []
    order = OrderFactory.create(user=customer)
    assert bare_staff.get(f"/api/v1/orders/{order.number}/").status_code == 404
    assert bare_staff.get("/api/v1/orders/").json()["results"] == []


def test_an_unknown_payment_is_404_in_the_error_shape(customer, api_client_for):
    response = api_client_for(customer).get("/api/v1/payments/pay_nope/")

    assert response.status_code == 404
    body = response.json()
    assert (body["code"], body["fields"]) == ("not_found", {})
    assert body["message"]


def test_amounts_are_decimal_strings_never_floats(customer, api_client_for):
    payment = PaymentFactory.create(user=customer, amount=Decimal("123.45"))

    body = api_client_for(customer).get(f"/api/v1/payments/{payment.public_id}/").json()

    assert body["amount"] == "123.45"
    assert body["refunded_amount"] == "0.00"
