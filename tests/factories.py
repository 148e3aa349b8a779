"""Test data. Factories build rows directly; the code under test goes through the services."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth.models import Permission
from django.utils import timezone

from accounts.models import User
from core.models import Currency
from gateways.card.simulator.cards import APPROVE
from gateways.models import Gateway
from notifications.models import Notification, NotificationChannel
from orders.models import Order, OrderItem
from payments.models import (
    CLAIM_STATUSES,
    LedgerEntryType,
    Payment,
    PaymentKind,
    PaymentMethod,
    PaymentStatus,
)
from payments.services import balance_credit

# Every factory-made user's password.
PASSWORD = "correct horse battery staple"


def order_payment_body(order: Order, **overrides: object) -> dict[str, object]:
    """The API's body for paying `order`'s total; `overrides` say how (gateway, method, card)."""
    return {
        "kind": "order",
        "order": order.number,
        "amount": str(order.total),
        "currency": order.currency,
        **overrides,
    }


def fund(user: User, amount: str) -> None:
    """Put `amount` TWD in the user's balance, as a deposit on the ledger."""
    balance_credit(
        user_id=user.pk, amount=Decimal(amount), currency="TWD", entry_type=LedgerEntryType.DEPOSIT
    )


def card_payment_body(order: Order, number: str = APPROVE) -> dict[str, object]:
    """The API's body for paying `order` by card (`number`: one of the simulator's test cards)."""
    return order_payment_body(
        order,
        card={
            "number": number,
            "exp_month": 1,
            "exp_year": timezone.localdate().year + 1,
            "cvc": "123",
        },
    )


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    password = factory.django.Password(PASSWORD)


def _grant_view_permissions(user: User, create: bool, extracted: object, **kwargs: object) -> None:
    if create:
        user.user_permissions.add(
            *Permission.objects.filter(
                codename__in=["view_payment", "view_order"],
                content_type__app_label__in=["payments", "orders"],
            )
        )


class StaffFactory(UserFactory):
    """Staff who may view every customer's payments and orders (what a reviewer may): being
    staff alone shows nothing of anyone else's."""

    class Meta:
        skip_postgeneration_save = True  # permissions are rows of their own: nothing to save

    is_staff = True
    view_permissions = factory.PostGeneration(_grant_view_permissions)


class OrderItemFactory(factory.django.DjangoModelFactory[OrderItem]):
    class Meta:
        model = OrderItem

    sku = "TEA-001"
    name = "Oolong tea 150 g"
    unit_price = Decimal("450.00")
    quantity = 2


class OrderFactory(factory.django.DjangoModelFactory[Order]):
    class Meta:
        model = Order
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    currency = Currency.TWD
    subtotal = Decimal("900.00")
    shipping_fee = Decimal("60.00")
    discount = Decimal("0.00")
    total = Decimal("960.00")
    # Two teas at 450: the subtotal above.
    item = factory.RelatedFactory(OrderItemFactory, factory_related_name="order")


class PaymentFactory(factory.django.DjangoModelFactory[Payment]):
    class Meta:
        model = Payment

    user = factory.SubFactory(UserFactory)
    kind = PaymentKind.DEPOSIT
    gateway = Gateway.CARD
    method = PaymentMethod.CARD
    amount = Decimal("500.00")
    currency = Currency.TWD
    order = None
    status = PaymentStatus.PENDING
    # An order payment holds its order's claim, as payment_create gives it, unless another
    # payment of the order holds it already.
    claimed_order = factory.LazyAttribute(
        lambda payment: (
            payment.order
            if payment.kind == PaymentKind.ORDER
            and payment.status in CLAIM_STATUSES
            and not Payment.objects.filter(claimed_order=payment.order).exists()
            else None
        )
    )


def email_notification(*, status, attempts=0, idle=timedelta(0)):
    """An email notification as a crashed or failed sender left it, last touched `idle` ago."""
    payment = PaymentFactory.create(status=PaymentStatus.COMPLETED)
    notification = Notification.objects.create(
        payment=payment,
        event="completed",
        channel=NotificationChannel.EMAIL,
        recipient=payment.user.email,
        status=status,
        attempts=attempts,
    )
    Notification.objects.filter(pk=notification.pk).update(updated_at=timezone.now() - idle)
    return notification
