"""The signed AioCheckOut form that sends a customer to ECPay to pay one of our payments, and
the check of the result ECPay's page posts back through the customer's browser.

Nothing here writes: the payment is created by `payments.services.payment_start_ecpay`, and only
ECPay's server notifications (`payments.ecpay.notifications`) ever change it.
"""

from collections.abc import Mapping

from django.conf import settings
from django.urls import reverse

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
from payments.models import Payment, PaymentStatus


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
