"""The customer's pages: their orders, and paying for one on ECPay (seed 004's requestPayment and
clientReturn). Every page shows what our database says; none of them changes a payment's status.
"""

from typing import cast

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from orders.checkout import (
    CHECKOUT_METHODS,
    ECPAY_METHOD_FOR,
    ORDER_STATUS_LABELS,
    MethodForm,
    customer_order_get,
    customer_orders,
    ecpay_checkout_form,
    ecpay_payment_awaiting_checkout,
    ecpay_result_verifies,
    order_latest_payment,
    payment_state,
)
from orders.models import Order, OrderStatus
from payments.exceptions import CurrencyMismatch, InsufficientBalance, InvalidPayment
from payments.models import Payment, PaymentKind
from payments.services import payment_start_ecpay, payment_start_from_balance
from payments.tasks import pipeline_start


@login_required
@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    orders = [
        (order, ORDER_STATUS_LABELS[order.status])
        for order in customer_orders(user=_customer(request))
    ]
    return render(request, "orders/order_list.html", {"orders": orders})


@login_required
@require_GET
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    order = _own_order(request, number)
    return render(request, "orders/order_detail.html", _payment_context(order))


@login_required
@require_GET
def checkout(request: HttpRequest, number: str) -> HttpResponse:
    order = _own_order(request, number)
    if order.status != OrderStatus.PENDING_PAYMENT:
        return redirect("orders:detail", number)
    return _checkout_page(request, order, MethodForm())


@login_required
@require_POST
def checkout_pay(request: HttpRequest, number: str) -> HttpResponse:
    """Start an ECPay payment and send the customer's browser to ECPay with the signed form."""
    order = _own_order(request, number)
    if order.status != OrderStatus.PENDING_PAYMENT:
        return redirect("orders:detail", number)
    form = MethodForm(request.POST)
    if not form.is_valid():
        return _checkout_page(request, order, form, status=400)
    method = CHECKOUT_METHODS[form.cleaned_data["method"]]
    try:
        payment = payment_start_ecpay(
            user=_customer(request),
            kind=PaymentKind.ORDER,
            order=order,
            amount=order.total,
            currency=order.currency,
            method=method.payment_method,
        )
    except InvalidPayment:
        # ECPay takes whole New Taiwan dollars only: an order priced otherwise cannot go there.
        form.add_error(None, _("This order cannot be paid through ECPay. Please contact us."))
        return _checkout_page(request, order, form, status=400)
    checkout_form = ecpay_checkout_form(payment=payment, method=method.ecpay_method)
    return render(
        request, "checkout/to_ecpay.html", {"order": order, "checkout_form": checkout_form}
    )


@require_GET
def checkout_payment(request: HttpRequest, public_id: str) -> HttpResponse:
    """Send the browser to ECPay for a payment an API client started (its `next_action`).

    No sign-in: the app that made the payment opens this page in a browser that has no session of
    ours. The payment's public id is the credential: 24 random characters, unguessable, and the
    page only offers to pay the payment it names.
    """
    try:
        payment = ecpay_payment_awaiting_checkout(public_id=public_id)
    except Payment.DoesNotExist:
        raise Http404 from None
    checkout_form = ecpay_checkout_form(payment=payment, method=ECPAY_METHOD_FOR[payment.method])
    return render(
        request, "checkout/to_ecpay.html", {"order": payment.order, "checkout_form": checkout_form}
    )


@login_required
@require_POST
def checkout_pay_from_balance(request: HttpRequest, number: str) -> HttpResponse:
    """Pay the order from the customer's balance; the pipeline debits it on the worker."""
    order = _own_order(request, number)
    if order.status != OrderStatus.PENDING_PAYMENT:
        return redirect("orders:detail", number)
    try:
        payment = payment_start_from_balance(user=_customer(request), order=order)
    except (InsufficientBalance, CurrencyMismatch):
        error = _("Your balance does not cover this order.")
        return _checkout_page(request, order, MethodForm(), status=400, error=error)
    pipeline_start(payment.pk)
    return redirect("checkout:result", number)


# ECPay's page posts the result here from the customer's browser: there is no CSRF token of ours
# in it, and it changes nothing.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def checkout_result(request: HttpRequest, number: str) -> HttpResponse:
    """ECPay's OrderResultURL, and the page the customer comes back to.

    A POST is only checked for a valid CheckMacValue, then redirected to the GET: ECPay's post
    comes from another site, so the browser sends our (SameSite=Lax) session cookie with the
    redirected GET but not with the post. Whatever was posted, the page shows our database.
    """
    if request.method == "POST":
        url = reverse("checkout:result", args=[number])
        if not ecpay_result_verifies(request.POST.dict()):
            url += "?unconfirmed=1"
        return redirect(url)
    return _result_page(request, number)


@login_required
def _result_page(request: HttpRequest, number: str) -> HttpResponse:
    order = _own_order(request, number)
    context = _payment_context(order)
    context["unconfirmed"] = request.GET.get("unconfirmed") == "1"
    return render(request, "checkout/result.html", context)


def _checkout_page(
    request: HttpRequest, order: Order, form: MethodForm, status: int = 200, error: str = ""
) -> HttpResponse:
    balance = _customer(request).balance
    context = {
        "order": order,
        "form": form,
        "balance": balance,
        "balance_covers": balance >= order.total,
        "error": error,
    }
    return render(request, "checkout/checkout.html", context, status=status)


def _payment_context(order: Order) -> dict[str, object]:
    payment = order_latest_payment(order=order)
    return {
        "order": order,
        "status_label": ORDER_STATUS_LABELS[order.status],
        "payment": payment,
        "state": payment_state(order=order, payment=payment),
    }


def _customer(request: HttpRequest) -> User:
    # Only behind login_required: the user is signed in.
    return cast(User, request.user)


def _own_order(request: HttpRequest, number: str) -> Order:
    """The signed-in customer's order; anyone else's is a 404, as if it did not exist."""
    try:
        return customer_order_get(user=_customer(request), number=number)
    except Order.DoesNotExist:
        raise Http404 from None
