"""Every write to orders."""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from core.models import CENT, ZERO
from core.transitions import check_locked, transition_needed
from orders.exceptions import InvalidDiscountCode, OrderTotalOutOfRange
from orders.models import (
    ORDER_TRANSITIONS,
    DiscountCode,
    Order,
    OrderEvent,
    OrderItem,
    OrderStatus,
    PaymentHeader,
)
from orders.pricing import Cost, DiscountNotApplicable, ItemLine, calculate_cost
from orders.selectors import discount_code_terms

# A random 12-digit number collides about once in 10^12 draws; a few tries always suffice.
_ORDER_NUMBER_TRIES = 5


def order_create(
    *, user: User, items: Sequence[ItemLine], currency: str, discount_code: str = ""
) -> Order:
    """Create an order waiting for payment, priced by `orders.pricing`.

    Raises `InvalidDiscountCode` for a code that does not exist, has expired, is in another
    currency, or needs a larger subtotal, and `OrderTotalOutOfRange` for a total above what one
    payment may be (PAYMENT_MAX_AMOUNT).
    """
    code = discount_code.strip().upper()
    discount = None
    if code:
        discount = discount_code_terms(code=code, currency=currency, for_new_order=True)
        if discount is None:
            raise InvalidDiscountCode(
                fields={"discount_code": ["No such code, or it has expired."]}
            )
    try:
        cost = calculate_cost(items=items, currency=currency, discount=discount)
    except DiscountNotApplicable as error:
        raise InvalidDiscountCode(fields={"discount_code": [str(error)]}) from None
    if cost.total > settings.PAYMENT_MAX_AMOUNT:
        # Nobody could pay it: one payment is at most that (payments.limits).
        message = f"The total, {cost.total} {currency}, is above {settings.PAYMENT_MAX_AMOUNT}."
        raise OrderTotalOutOfRange(fields={"items": [message]})
    # The number is drawn at random; on the rare collision with an existing one, draw again.
    for _ in range(_ORDER_NUMBER_TRIES - 1):
        try:
            return _order_insert(user=user, items=items, currency=currency, cost=cost, code=code)
        except IntegrityError:
            continue
    return _order_insert(user=user, items=items, currency=currency, cost=cost, code=code)


def _order_insert(
    *, user: User, items: Sequence[ItemLine], currency: str, cost: Cost, code: str
) -> Order:
    with transaction.atomic():
        order = Order.objects.create(
            user=user,
            currency=currency,
            subtotal=cost.subtotal,
            shipping_fee=cost.shipping_fee,
            discount=cost.discount,
            total=cost.total,
            discount_code=code,
        )
        OrderItem.objects.bulk_create(
            OrderItem(
                order=order,
                sku=item.sku,
                name=item.name,
                unit_price=item.unit_price,
                quantity=item.quantity,
            )
            for item in items
        )
        OrderEvent.objects.create(order=order, type="created", to_status=order.status)
    return order


def order_transition(
    *,
    order_id: int,
    to: str,
    event: str,
    data: Mapping[str, Any] | None = None,
    actor: User | None = None,
    locked: Order | None = None,
) -> Order:
    """Move an order to status `to`: the only code that changes `Order.status`.

    Locks the order row; a repeat of a move already made is a no-op; a move the transition table
    does not allow raises `IllegalTransition` and saves nothing. `locked` is the order's row as a
    caller already holding its lock read it, in the transaction still open: the move is made on
    it without locking and reading it again.
    """
    if locked is not None:
        check_locked(locked, pk=order_id, what="order")
        return _order_move(locked, to, event, data, actor)
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        return _order_move(order, to, event, data, actor)


def _order_move(
    order: Order, to: str, event: str, data: Mapping[str, Any] | None, actor: User | None
) -> Order:
    # Under the order's row lock (order_transition).
    from_status = order.status
    if not transition_needed(ORDER_TRANSITIONS, what="order", from_status=from_status, to=to):
        return order
    order.status = to
    order.save(update_fields=["status", "updated_at"])
    OrderEvent.objects.create(
        order=order,
        type=event,
        from_status=from_status,
        to_status=to,
        data=dict(data or {}),
        actor=actor,
    )
    return order


def order_mark_paid(
    *,
    order_id: int,
    payment_id: int,
    gateway: str,
    method: str,
    gateway_payment_id: str,
    total_paid: Decimal,
    currency: str,
    cost: Cost | None = None,
    locked: Order | None = None,
) -> PaymentHeader:
    """Write the order's payment header and mark it paid, once.

    Returns the order's header: the one just written, or the one an earlier payment wrote and
    paid with (the caller compares its payment to know whether the order was already paid). A
    header an unpaid attempt wrote (`order_record_unpaid`) is written over. `cost` is the order
    re-priced as it was paid for (a wallet's payment, seed 003): saved on the order with the
    header, with a `repriced` event if it differs. `locked`: the order's row as a caller
    holding its lock read it, as in `order_transition`.
    """
    with transaction.atomic():
        if locked is not None:
            check_locked(locked, pk=order_id, what="order")
        order = locked or Order.objects.select_for_update().get(pk=order_id)
        existing = PaymentHeader.objects.filter(order=order).first()
        if existing is not None and existing.is_paid:
            return existing
        if cost is not None:
            _order_reprice(order, cost, payment_id=payment_id)
        header = _header_write(
            order,
            existing,
            payment_id=payment_id,
            gateway=gateway,
            method=method,
            gateway_payment_id=gateway_payment_id,
            is_paid=True,
            total_paid=total_paid,
            currency=currency,
            paid_at=timezone.now(),
        )
        order_transition(
            order_id=order_id,
            to=OrderStatus.PAID,
            event="paid",
            data={"payment_id": payment_id},
            locked=order,
        )
    return header


def order_record_unpaid(
    *,
    order_id: int,
    payment_id: int,
    gateway: str,
    method: str,
    gateway_payment_id: str,
    currency: str,
) -> PaymentHeader | None:
    """Write the order's header for an attempt that paid nothing (a wallet that reported
    failure, seed 003's header with isPaid false): the latest such attempt's, so the order
    shows how it was last tried. Never over a paid header: returns None then, and changes
    nothing. Under the order's row lock."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        existing = PaymentHeader.objects.filter(order=order).first()
        if existing is not None and existing.is_paid:
            return None
        header = _header_write(
            order,
            existing,
            payment_id=payment_id,
            gateway=gateway,
            method=method,
            gateway_payment_id=gateway_payment_id,
            is_paid=False,
            total_paid=ZERO,
            currency=currency,
            paid_at=None,
        )
        OrderEvent.objects.create(
            order=order, type="payment_attempt_failed", data={"payment_id": payment_id}
        )
    return header


def _header_write(order: Order, existing: PaymentHeader | None, **fields: Any) -> PaymentHeader:
    # Under the order's row lock: `existing` is its header as read under it, and unpaid.
    if existing is None:
        return PaymentHeader.objects.create(order=order, **fields)
    for name, value in fields.items():
        setattr(existing, name, value)
    existing.save(update_fields=list(fields))
    return existing


def _order_reprice(order: Order, cost: Cost, *, payment_id: int) -> None:
    """Save `cost` (the order re-priced from its items and discount code) on `order` (locked),
    with a `repriced` event saying what changed; nothing if it did not."""
    before = (order.subtotal, order.shipping_fee, order.discount, order.total)
    after = tuple(
        amount.quantize(CENT)
        for amount in (cost.subtotal, cost.shipping_fee, cost.discount, cost.total)
    )
    if before == after:
        return
    order.subtotal, order.shipping_fee, order.discount, order.total = after
    order.save(update_fields=["subtotal", "shipping_fee", "discount", "total", "updated_at"])
    names = ("subtotal", "shipping_fee", "discount", "total")
    OrderEvent.objects.create(
        order=order,
        type="repriced",
        data={
            "payment_id": payment_id,
            "before": dict(zip(names, map(str, before), strict=True)),
            "after": dict(zip(names, map(str, after), strict=True)),
        },
    )


def discount_code_create(*, code: str, percent_off: Decimal, currency: str) -> DiscountCode:
    """A discount code of `percent_off` percent for orders in `currency`; the existing one if
    the code exists already (codes are unique), unchanged."""
    discount, _ = DiscountCode.objects.get_or_create(
        code=code.strip().upper(), defaults={"percent_off": percent_off, "currency": currency}
    )
    return discount
