"""The customer's checkout: what their order pages read, and the signed ECPay form they post.

Nothing here writes: the payment is created by `payments.services.payment_start_ecpay`, and only
ECPay's server notifications ever change it. These pages show what our database says.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from gateways.base import BadSignatureError, PermanentGatewayError
from gateways.ecpay import (
    CheckoutForm,
    CheckoutRequest,
    EcpayMethod,
    build_checkout_form,
    ecpay_config,
    parse_notification,
)
from gateways.models import Gateway
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
    CONFIRMING = "confirming"  # ECPay has not told us the result yet
    WAITING = "waiting"  # an ATM account or store code was issued: the customer pays with it
    PAID = "paid"
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


def order_latest_payment(*, order: Order) -> Payment | None:
    """The order's most recent payment: the one the customer's last checkout started."""
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
    if order.status in (OrderStatus.PAID, OrderStatus.REFUNDED):
        return PaymentState.PAID
    if payment is None:
        return PaymentState.NONE
    if payment.status in (PaymentStatus.COMPLETED, PaymentStatus.REFUNDED):
        return PaymentState.PAID
    if payment.status in (PaymentStatus.PENDING, PaymentStatus.PROCESSING):
        return PaymentState.WAITING if payment.payment_code else PaymentState.CONFIRMING
    if payment.status == PaymentStatus.CREDITED:
        return PaymentState.CREDITED
    return PaymentState.FAILED


def ecpay_checkout_form(*, payment: Payment, method: EcpayMethod) -> CheckoutForm:
    """The signed AioCheckOut form that sends the customer to ECPay to pay `payment`: an order's,
    which comes back to the order's result page, or a balance top-up, which stays on ECPay's."""
    site = settings.SITE_URL.rstrip("/")
    order = payment.order
    if order is not None:
        item_names = [f"{item.name} x {item.quantity}" for item in order.items.all()]
        trade_desc = f"Order {order.number}"
        order_result_url = site + reverse("checkout:result", args=[order.number])
        client_back_url = site + reverse("orders:detail", args=[order.number])
    else:
        item_names = [trade_desc := "Balance top-up"]
        # No page of ours shows a top-up's result: ECPay's own page does, and the notification
        # credits the balance whatever the browser does.
        order_result_url = ""
        client_back_url = site + reverse("orders:list")
    return build_checkout_form(
        CheckoutRequest(
            # Never None for an ECPay payment: payment_start_ecpay draws one.
            merchant_trade_no=payment.merchant_trade_no or "",
            total_amount=payment.amount,
            item_names=item_names,
            trade_desc=trade_desc,
            method=method,
            return_url=site + reverse("ecpay-notify"),
            order_result_url=order_result_url,
            client_back_url=client_back_url,
            payment_info_url=site + reverse("ecpay-payment-info"),
            custom_field1=payment.public_id,
        ),
        ecpay_config(),
    )


def ecpay_payment_awaiting_checkout(*, public_id: str) -> Payment:
    """A pending ECPay payment the customer has not been sent to ECPay for (no code issued).
    Raises Payment.DoesNotExist for any other."""
    return Payment.objects.select_related("order").get(
        public_id=public_id,
        gateway=Gateway.ECPAY,
        status=PaymentStatus.PENDING,
        payment_code="",
    )


def ecpay_result_verifies(fields: Mapping[str, str]) -> bool:
    """Whether a result ECPay's page posted through the customer's browser carries a valid
    CheckMacValue. Even a valid one is never believed: only ECPay's server notification changes
    a payment, and the pages show our database."""
    try:
        parse_notification(fields, ecpay_config())
    except (BadSignatureError, PermanentGatewayError):
        return False
    return True
