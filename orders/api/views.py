from django.http import Http404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import request_caller
from core.api import NewestFirst
from core.idempotency import idempotent
from core.openapi import (
    CURSOR_PAGE_PARAMETERS,
    IDEMPOTENCY_KEY,
    ErrorSerializer,
    cursor_page,
    error_responses,
)
from orders.api.serializers import (
    OrderCreateSerializer,
    OrderFilterSerializer,
    OrderQuoteSerializer,
    OrderSerializer,
)
from orders.models import Order
from orders.pricing import ItemLine
from orders.selectors import order_cost, order_get_for_user, orders_visible_to
from orders.services import order_create

_ORDER_EXAMPLE = {
    "number": "492500005643",
    "customer": "customer@example.com",
    "status": "paid",
    "currency": "TWD",
    "subtotal": "900.00",
    "shipping_fee": "60.00",
    "discount": "90.00",
    "total": "870.00",
    "discount_code": "TEA10",
    "items": [
        {"sku": "TEA-001", "name": "Oolong tea 150 g", "unit_price": "450.00", "quantity": 2}
    ],
    "payment": {
        "id": "pay_3ktqz8w1xbv0ar7m5n2c9d4e",
        "gateway": "card",
        "method": "card",
        "total_paid": "870.00",
        "currency": "TWD",
        "paid_at": "2025-06-01T14:03:29.104117+08:00",
    },
    "created_at": "2025-06-01T14:01:05.118230+08:00",
}
_NUMBER_EXAMPLE = OpenApiExample(
    "An order number", value="492500005643", parameter_only=("number", "path")
)


def _invalid(description: str, fields: dict[str, list[str]]) -> OpenApiResponse:
    """A 400 in the one error shape, with an example of what this operation refuses."""
    example = {
        "code": "invalid",
        "message": "The request is not valid: see fields.",
        "fields": fields,
    }
    return OpenApiResponse(
        response=ErrorSerializer,
        description=description,
        examples=[OpenApiExample("invalid", value=example)],
    )


class OrderListView(APIView):
    @extend_schema(
        # An APIView's GET is taken for a retrieve: name it, or it collides with the detail's.
        operation_id="orders_list",
        summary="List orders",
        request=None,
        parameters=[OrderFilterSerializer, *CURSOR_PAGE_PARAMETERS],
        responses={
            200: cursor_page(OrderSerializer),
            400: _invalid(
                "A filter's value is not valid: the parameter is named.",
                {"status": ['"shipped" is not a valid choice.']},
            ),
            **error_responses(404, 429),
        },
        examples=[
            OpenApiExample("Paid orders only", value="paid", parameter_only=("status", "query")),
            OpenApiExample(
                "A page of orders",
                value={"next": None, "previous": None, "results": [_ORDER_EXAMPLE]},
                response_only=True,
            ),
        ],
    )
    def get(self, request: Request) -> Response:
        """The caller's orders (every one, for staff), newest first, a cursor page at a time."""
        filters = OrderFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        orders = orders_visible_to(user=request_caller(request), filters=filters.validated_data)
        paginator = NewestFirst()
        page = paginator.paginate_queryset(orders, request, view=self)
        return paginator.get_paginated_response(OrderSerializer(page, many=True).data)

    @extend_schema(
        summary="Create an order",
        request=OrderCreateSerializer,
        responses={
            201: OrderSerializer,
            400: _invalid(
                "Bad items, an unknown customer, or a discount code that cannot be used (code "
                "`invalid_discount_code`, on the field `discount_code`).",
                {"items.0.unit_price": ["Prices in TWD are in steps of 1."]},
            ),
            **error_responses(403, 415, 429),
        },
        parameters=[IDEMPOTENCY_KEY],
        examples=[
            OpenApiExample(
                # TEA10 is the demo's code (seed_demo, fuzz_fixtures make it).
                "Two teas with a discount code",
                value={
                    "customer": "customer@example.com",
                    "currency": "TWD",
                    "items": [
                        {
                            "sku": "TEA-001",
                            "name": "Oolong tea 150 g",
                            "unit_price": "450",
                            "quantity": 2,
                        }
                    ],
                    "discount_code": "TEA10",
                },
                request_only=True,
            ),
            OpenApiExample(
                "The order, waiting for payment",
                value={**_ORDER_EXAMPLE, "status": "pending_payment", "payment": None},
                response_only=True,
                status_codes=[201],
            ),
        ],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        """Create an order waiting for payment, priced from the items given. There is no
        catalogue: the caller sets the prices, so it needs the `orders.add_order` permission
        (staff, a merchant's service account), never a customer pricing their own order."""
        user = request_caller(request)
        if not user.has_perm("orders.add_order"):
            raise PermissionDenied("Creating orders needs the permission to add orders.")
        serializer = OrderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        order = order_create(
            user=data.get("customer", user),
            items=[ItemLine(**item) for item in data["items"]],
            currency=data["currency"],
            discount_code=data["discount_code"],
        )
        return Response(OrderSerializer(order).data, status=201)


class OrderDetailView(APIView):
    @extend_schema(
        summary="Retrieve an order",
        request=None,
        responses={200: OrderSerializer, **error_responses(404, 429)},
        examples=[
            _NUMBER_EXAMPLE,
            OpenApiExample("A paid order", value=_ORDER_EXAMPLE, response_only=True),
        ],
    )
    def get(self, request: Request, number: str) -> Response:
        """An order of the caller's (any order, for staff), with its items and how it was paid;
        anyone else gets 404."""
        return Response(OrderSerializer(_visible_order(request, number)).data)


class OrderQuoteView(APIView):
    @extend_schema(
        summary="Price an order again",
        request=None,
        responses={200: OrderQuoteSerializer, **error_responses(404, 429)},
        examples=[
            _NUMBER_EXAMPLE,
            OpenApiExample(
                "The order costs what it did",
                value={
                    "order": "492500005643",
                    "subtotal": "900.00",
                    "shipping_fee": "60.00",
                    "discount": "90.00",
                    "total": "870.00",
                    "currency": "TWD",
                    "matches_order_total": True,
                },
                response_only=True,
            ),
        ],
    )
    def get(self, request: Request, number: str) -> Response:
        """What the order costs now, priced again from its items and discount code (the same
        calculation that checks a paid order), and whether that is the total it was made with."""
        order = _visible_order(request, number)
        cost = order_cost(order)
        quote = {
            "order": order.number,
            "subtotal": cost.subtotal,
            "shipping_fee": cost.shipping_fee,
            "discount": cost.discount,
            "total": cost.total,
            "currency": order.currency,
            "matches_order_total": cost.total == order.total,
        }
        return Response(OrderQuoteSerializer(quote).data)


def _visible_order(request: Request, number: str) -> Order:
    """The order if the caller may see it; a 404 otherwise, as if it did not exist."""
    try:
        return order_get_for_user(user=request_caller(request), number=number)
    except Order.DoesNotExist:
        raise Http404 from None
