"""What the customer's order and checkout pages read: their orders, the payment under way, and
the state they are told of. Nothing here writes, and nothing the browser brings back from a
gateway is believed: these pages show what our database says.
"""

from dataclasses import dataclass

from django import forms
from django.db.models import QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from gateways.ecpay import EcpayMethod
from orders.models import Order, OrderStatus
from payments.models import Payment, PaymentMethod, PaymentStatus


@dataclass(frozen=True)
class CheckoutMethod:
    label: Promise
    payment_method: PaymentMethod
    ecpay_method: EcpayMethod


# What the checkout page offers, keyed by the value the form posts.
CHECKOUT_METHODS: dict[str, CheckoutMethod] = {
    "card": CheckoutMethod(_("Credit card"), PaymentMethod.CARD, EcpayMethod.CREDIT),
    "atm": CheckoutMethod(_("ATM transfer"), PaymentMethod.ATM, EcpayMethod.ATM),
    "cvs": CheckoutMethod(_("Convenience store payment code"), PaymentMethod.CVS, EcpayMethod.CVS),
    "barcode": CheckoutMethod(
        _("Convenience store barcode"), PaymentMethod.BARCODE, EcpayMethod.BARCODE
    ),
}

# The model's labels are not translated; the customer's pages say these instead.
ORDER_STATUS_LABELS: dict[str, Promise] = {
    OrderStatus.PENDING_PAYMENT: _("Waiting for payment"),
    OrderStatus.PAID: _("Paid"),
    OrderStatus.CANCELLED: _("Cancelled"),
    OrderStatus.REFUNDED: _("Refunded"),
}


class PaymentState:
    """What the customer is told about an order's payment: one of these."""

    NONE = "none"  # no payment started yet
    CONFIRMING = "confirming"  # the gateway (or our worker) has not settled it yet
    WAITING = "waiting"  # an ATM account or store code was issued: the customer pays with it
    PAID = "paid"  # a part may have been refunded since: the payment's refunded_amount says
    REFUNDED = "refunded"  # all of it was given back
    FAILED = "failed"  # failed, cancelled or expired: the customer can try again
    CREDITED = "credited"  # money arrived that could not pay the order: it is in the balance


class MethodForm(forms.Form):
    method = forms.ChoiceField(
        choices=[(value, choice.label) for value, choice in CHECKOUT_METHODS.items()],
        initial="card",
        widget=forms.RadioSelect,
    )


def customer_orders(*, user: User) -> QuerySet[Order]:
    """The customer's own orders, newest first."""
    return Order.objects.filter(user=user).order_by("-created_at", "-pk")


def customer_order_get(*, user: User, number: str) -> Order:
    """The customer's own order with its items. Raises Order.DoesNotExist for anyone else's."""
    return Order.objects.prefetch_related("items").get(user=user, number=number)


def order_payment_shown(*, order: Order) -> Payment | None:
    """The payment the order's pages tell of: the one that paid it, once one has (an earlier
    attempt's money that arrived late was credited and paid nothing); until then the one the
    customer's last checkout started."""
    if order.status in (OrderStatus.PAID, OrderStatus.REFUNDED):
        return Payment.objects.filter(order_header__order=order).first()
    return order.payments.order_by("-created_at", "-pk").first()


def order_payment_under_way(*, order: Order) -> Payment | None:
    """The payment holding the order's claim while no other may start (`Payment.claimed_order`):
    one still pending or processing, or failed with money that may have moved. None when the
    order is free to pay, or paid."""
    return (
        Payment.objects.filter(claimed_order=order)
        .exclude(status__in=[PaymentStatus.COMPLETED, PaymentStatus.REFUNDED])
        .first()
    )


def payment_state(*, order: Order, payment: Payment | None) -> str:
    """Which `PaymentState` the order is in, as our database (never ECPay's browser post) says."""
    if order.status == OrderStatus.REFUNDED:
        return PaymentState.REFUNDED
    if order.status == OrderStatus.PAID:
        return PaymentState.PAID
    if payment is None:
        return PaymentState.NONE
    if payment.status == PaymentStatus.REFUNDED:
        return PaymentState.REFUNDED
    if payment.status == PaymentStatus.COMPLETED:
        return PaymentState.PAID
    if payment.status in (PaymentStatus.PENDING, PaymentStatus.PROCESSING):
        return PaymentState.WAITING if payment.payment_code else PaymentState.CONFIRMING
    if payment.status == PaymentStatus.CREDITED:
        return PaymentState.CREDITED
    return PaymentState.FAILED
