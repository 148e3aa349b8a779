"""The orders API: create (POST /api/v1/orders/), list, retrieve, and quote (re-price)."""

import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from core.models import Currency
from gateways.models import Gateway
from orders.models import DiscountCode, Order, OrderStatus
from orders.pricing import ItemLine, calculate_cost
from orders.selectors import order_cost
from orders.services import order_create, order_mark_paid
from payments.models import PaymentKind, PaymentStatus
from tests.factories import (
    OrderFactory,
    OrderItemFactory,
    PaymentFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TEA = {"sku": "TEA-001", "name": "Oolong tea 150 g", "unit_price": "450", "quantity": 2}


def may_add_orders(user: User) -> User:
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="orders", codename="add_order")
    )
    return user


@pytest.fixture
def merchant() -> User:
    """A merchant's service account: it prices orders, so it holds the add-order permission."""
    return may_add_orders(UserFactory.create())


def new_order(**overrides) -> dict:
    return {"currency": "TWD", "items": [TEA], **overrides}


def numbers(response) -> list[str]:
    return [order["number"] for order in response.json()["results"]]


# --- Create -----------------------------------------------------------------------------------


def test_an_order_is_created_for_the_caller_priced_by_the_pricing_rules(merchant, api_client_for):
    response = api_client_for(merchant).post("/api/v1/orders/", new_order(), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["subtotal"], body["shipping_fee"], body["discount"], body["total"]) == (
        "900.00",
        "60.00",
        "0.00",
        "960.00",
    )
    assert body["items"] == [{**TEA, "unit_price": "450.00"}]
    assert (body["customer"], body["status"], body["payment"]) == (
        merchant.email,
        "pending_payment",
        None,
    )
    order = Order.objects.get(number=body["number"])
    assert order.user == merchant
    expected = calculate_cost(
        items=[ItemLine("TEA-001", "Oolong tea 150 g", Decimal("450"), 2)], currency="TWD"
    )
    assert order.total == expected.total == Decimal("960")


def test_prices_sent_as_json_numbers_are_refused_never_rounded(merchant, api_client_for):
    body = {
        "currency": "USD",
        "items": [{"sku": "CUP", "name": "Cup", "unit_price": 19.99, "quantity": 3}],
    }

    response = api_client_for(merchant).post(
        "/api/v1/orders/", json.dumps(body), content_type="application/json"
    )

    assert response.status_code == 400
    assert "JSON number is not money" in response.json()["fields"]["items.0.unit_price"][0]


def test_a_discount_code_is_applied(merchant, api_client_for):
    DiscountCode.objects.create(code="TEA10", percent_off=Decimal("10"))

    response = api_client_for(merchant).post(
        "/api/v1/orders/", new_order(discount_code=" tea10 "), format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["discount_code"], body["discount"], body["total"]) == ("TEA10", "90.00", "870.00")


def test_an_unusable_discount_code_is_a_400_on_the_field_and_creates_nothing(
    merchant, api_client_for
):
    DiscountCode.objects.create(code="OLD", percent_off=Decimal("10"), active=False)

    response = api_client_for(merchant).post(
        "/api/v1/orders/", new_order(discount_code="OLD"), format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_discount_code"
    assert "discount_code" in response.json()["fields"]
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"items": [{**TEA, "unit_price": "450.50"}]}, "items.0.unit_price"),
        ({"items": [TEA, {**TEA, "unit_price": "0.5"}]}, "items.1.unit_price"),
        ({"currency": "USD", "items": [{**TEA, "unit_price": "1.005"}]}, "items.0.unit_price"),
        ({"items": [{**TEA, "unit_price": "0"}]}, "items.0.unit_price"),
        ({"items": [{**TEA, "unit_price": "-450"}]}, "items.0.unit_price"),
        ({"items": [{**TEA, "quantity": 0}]}, "items.0.quantity"),
        ({"items": [{**TEA, "quantity": 10_001}]}, "items.0.quantity"),
        ({"items": [{**TEA, "sku": ""}]}, "items.0.sku"),
        ({"items": []}, "items"),
        ({"items": [TEA] * 101}, "items"),
        ({"currency": "EUR"}, "currency"),
    ],
    ids=[
        "twd-cents",
        "twd-cents-second-item",
        "usd-beyond-cents",
        "free",
        "negative",
        "no-quantity",
        "too-many-of-one",
        "no-sku",
        "no-items",
        "too-many-items",
        "unknown-currency",
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(
    merchant, api_client_for, change, field
):
    response = api_client_for(merchant).post("/api/v1/orders/", new_order(**change), format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["fields"], body
    assert not Order.objects.exists()


def test_up_to_a_hundred_items_are_accepted(merchant, api_client_for):
    response = api_client_for(merchant).post(
        "/api/v1/orders/", new_order(items=[TEA] * 100), format="json"
    )

    assert response.status_code == 201, response.json()
    assert len(response.json()["items"]) == 100


@pytest.mark.parametrize("is_staff", [False, True], ids=["customer", "staff-without-permission"])
def test_creating_an_order_without_the_permission_is_a_403(api_client_for, is_staff):
    caller = UserFactory.create(is_staff=is_staff)

    response = api_client_for(caller).post("/api/v1/orders/", new_order(), format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert response.json()["fields"] == {}
    assert not Order.objects.exists()


def test_staff_with_the_permission_create_an_order_for_a_customer_by_email(
    customer, api_client_for
):
    staff = may_add_orders(StaffFactory.create())

    response = api_client_for(staff).post(
        "/api/v1/orders/", new_order(customer=customer.email), format="json"
    )

    assert response.status_code == 201, response.json()
    assert response.json()["customer"] == customer.email
    assert Order.objects.get(number=response.json()["number"]).user == customer
    # The customer now sees it as theirs.
    mine = api_client_for(customer).get(f"/api/v1/orders/{response.json()['number']}/")
    assert mine.status_code == 200


def test_an_unknown_customer_is_a_400_on_the_field(merchant, api_client_for):
    response = api_client_for(merchant).post(
        "/api/v1/orders/", new_order(customer="nobody@example.com"), format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["customer"]
    assert not Order.objects.exists()


# --- Retrieve ---------------------------------------------------------------------------------


def test_the_customer_sees_their_order_with_items_and_amounts(customer, api_client_for):
    order = OrderFactory.create(user=customer)

    response = api_client_for(customer).get(f"/api/v1/orders/{order.number}/")

    assert response.status_code == 200
    body = response.json()
    assert body == {
        "number": order.number,
        "customer": customer.email,
        "status": "pending_payment",
        "currency": "TWD",
        "subtotal": "900.00",
        "shipping_fee": "60.00",
        "discount": "0.00",
        "total": "960.00",
        "discount_code": "",
        "items": [
            {"sku": "TEA-001", "name": "Oolong tea 150 g", "unit_price": "450.00", "quantity": 2}
        ],
        "payment": None,
        "created_at": body["created_at"],
    }
    assert body["created_at"]


def test_a_paid_order_says_how_it_was_paid(customer, api_client_for):
    order = OrderFactory.create(user=customer)
    payment = PaymentFactory.create(
        user=customer,
        kind=PaymentKind.ORDER,
        order=order,
        amount=order.total,
        status=PaymentStatus.COMPLETED,
    )
    order_mark_paid(
        order_id=order.pk,
        payment_id=payment.pk,
        gateway=Gateway.CARD,
        method="card",
        gateway_payment_id="ch_1",
        total_paid=order.total,
        currency=order.currency,
    )

    body = api_client_for(customer).get(f"/api/v1/orders/{order.number}/").json()

    assert body["status"] == "paid"
    paid_at = body["payment"].pop("paid_at")
    assert paid_at
    assert body["payment"] == {
        "id": payment.public_id,
        "gateway": "card",
        "method": "card",
        "total_paid": "960.00",
        "currency": "TWD",
    }


def test_another_customers_order_is_a_404_like_a_missing_one_and_staff_see_it(
    customer, api_client_for
):
    order = OrderFactory.create(user=customer)
    stranger = api_client_for(UserFactory.create())

    someone_elses = stranger.get(f"/api/v1/orders/{order.number}/")
    missing = stranger.get("/api/v1/orders/000000000000/")

    assert someone_elses.status_code == missing.status_code == 404
    assert someone_elses.json() == missing.json()
    assert missing.json()["code"] == "not_found"
    staff = api_client_for(StaffFactory.create())
    assert staff.get(f"/api/v1/orders/{order.number}/").json()["number"] == order.number


def test_anonymous_callers_get_401(client):
    order = OrderFactory.create()

    assert client.get("/api/v1/orders/").status_code == 401
    assert client.post("/api/v1/orders/", new_order(), "application/json").status_code == 401
    assert client.get(f"/api/v1/orders/{order.number}/").status_code == 401
    assert client.get(f"/api/v1/orders/{order.number}/quote/").status_code == 401


# --- List -------------------------------------------------------------------------------------


def test_a_customer_lists_only_their_own_orders_newest_first(customer, api_client_for):
    older = OrderFactory.create(user=customer)
    newer = OrderFactory.create(user=customer)
    OrderFactory.create()  # someone else's

    response = api_client_for(customer).get("/api/v1/orders/")

    assert response.status_code == 200
    assert numbers(response) == [newer.number, older.number]


def test_staff_list_every_order(api_client_for):
    orders = OrderFactory.create_batch(3)
    staff = StaffFactory.create()

    listed = numbers(api_client_for(staff).get("/api/v1/orders/"))

    assert sorted(listed) == sorted(order.number for order in orders)


def test_filters_narrow_the_list(customer, api_client_for):
    paid = OrderFactory.create(user=customer, status=OrderStatus.PAID)
    old = OrderFactory.create(user=customer)
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    client = api_client_for(customer)
    yesterday = (timezone.now() - timedelta(days=1)).isoformat()

    assert numbers(client.get("/api/v1/orders/", {"status": "paid"})) == [paid.number]
    assert numbers(client.get("/api/v1/orders/", {"status": "pending_payment"})) == [old.number]
    assert numbers(client.get("/api/v1/orders/", {"created_after": yesterday})) == [paid.number]
    assert numbers(client.get("/api/v1/orders/", {"created_before": yesterday})) == [old.number]


@pytest.mark.parametrize(
    ("parameter", "value"),
    [("status", "shipped"), ("created_after", "last week"), ("created_before", "2026-13-01")],
)
def test_an_unknown_filter_value_is_a_400_naming_the_parameter(
    customer, api_client_for, parameter, value
):
    response = api_client_for(customer).get("/api/v1/orders/", {parameter: value})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == [parameter]


def test_cursor_pages_walk_the_whole_list_once(customer, api_client_for):
    created = [OrderFactory.create(user=customer).number for _ in range(5)]
    client = api_client_for(customer)

    seen: list[str] = []
    url: str | None = "/api/v1/orders/?page_size=2"
    while url:
        body = client.get(url).json()
        assert len(body["results"]) <= 2
        seen += [order["number"] for order in body["results"]]
        url = body["next"]

    assert seen == list(reversed(created))


@pytest.mark.parametrize("page_size", [1, 20])
def test_the_list_takes_the_same_queries_whatever_the_page_size(
    customer, api_client_for, page_size
):
    for index in range(20):
        order = OrderFactory.create(user=customer)
        OrderItemFactory.create(order=order, sku="CUP", unit_price=Decimal("100.00"), quantity=1)
        if index % 2:
            payment = PaymentFactory.create(
                user=customer, kind=PaymentKind.ORDER, order=order, amount=order.total
            )
            order_mark_paid(
                order_id=order.pk,
                payment_id=payment.pk,
                gateway=Gateway.CARD,
                method="card",
                gateway_payment_id="",
                total_paid=order.total,
                currency=order.currency,
            )
    client = api_client_for(customer)

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/orders/", {"page_size": page_size})

    results = response.json()["results"]
    assert len(results) == page_size
    assert all(len(order["items"]) == 2 for order in results)
    # The token and its user; the page (customer and payment header joined in); its items.
    assert len(queries) == 3


# --- Quote ------------------------------------------------------------------------------------


@pytest.fixture
def discounted_order(customer: User) -> Order:
    DiscountCode.objects.create(code="TEA10", percent_off=Decimal("10"))
    tea = ItemLine(sku="TEA-001", name="Oolong tea", unit_price=Decimal("450"), quantity=2)
    return order_create(user=customer, items=[tea], currency=Currency.TWD, discount_code="TEA10")


def quote(client, order: Order):
    response = client.get(f"/api/v1/orders/{order.number}/quote/")
    assert response.status_code == 200, response.json()
    return response.json()


def test_the_quote_is_what_order_cost_says(customer, discounted_order, api_client_for):
    cost = order_cost(discounted_order)

    assert quote(api_client_for(customer), discounted_order) == {
        "order": discounted_order.number,
        "subtotal": "900.00",
        "shipping_fee": "60.00",
        "discount": "90.00",
        "total": "870.00",
        "currency": "TWD",
        "matches_order_total": True,
    }
    assert (cost.subtotal, cost.shipping_fee, cost.discount, cost.total) == (
        Decimal("900"),
        Decimal("60"),
        Decimal("90"),
        Decimal("870"),
    )


def test_the_quote_says_when_the_stored_total_is_not_what_the_items_cost(customer, api_client_for):
    # Stored as 800 + 60, but its items (2 × 450) cost 960 now.
    order = OrderFactory.create(user=customer, subtotal=Decimal("800"), total=Decimal("860"))

    body = quote(api_client_for(customer), order)

    assert (body["total"], body["matches_order_total"]) == ("960.00", False)


def test_a_discount_code_that_expired_since_the_order_was_made_is_still_honoured(
    customer, discounted_order, api_client_for
):
    # The customer was given the code while it was valid: re-pricing keeps it (orders.selectors).
    DiscountCode.objects.filter(code="TEA10").update(valid_until=timezone.now() - timedelta(days=1))

    body = quote(api_client_for(customer), discounted_order)

    assert (body["discount"], body["total"], body["matches_order_total"]) == (
        "90.00",
        "870.00",
        True,
    )


def test_a_discount_code_withdrawn_since_the_order_was_made_changes_the_quote(
    customer, discounted_order, api_client_for
):
    DiscountCode.objects.filter(code="TEA10").update(active=False)

    body = quote(api_client_for(customer), discounted_order)

    assert (body["discount"], body["total"], body["matches_order_total"]) == (
        "0.00",
        "960.00",
        False,
    )


def test_another_customers_quote_is_a_404_and_staff_see_it(discounted_order, api_client_for):
    url = f"/api/v1/orders/{discounted_order.number}/quote/"

    assert api_client_for(UserFactory.create()).get(url).status_code == 404
    assert api_client_for(StaffFactory.create()).get(url).status_code == 200


def test_the_schemas_own_order_example_creates_an_order_on_the_demo_data(
    merchant, api_client_for, client, settings
):
    settings.DEBUG = True  # seed_demo is development's
    call_command("seed_demo", stdout=io.StringIO())
    schema = client.get("/api/schema/?format=json").json()
    example = schema["paths"]["/api/v1/orders/"]["post"]["requestBody"]["content"][
        "application/json"
    ]["examples"]["TwoTeasWithADiscountCode"]["value"]

    response = api_client_for(merchant).post("/api/v1/orders/", example, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["discount"] != "0.00"
