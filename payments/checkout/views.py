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
from core.exceptions import DomainError
from orders.models import Order, OrderStatus
from payments.checkout.pages import (
    CHECKOUT_METHODS,
    ORDER_STATUS_LABELS,
    MethodForm,
    customer_order_get,
    customer_orders,
    order_payment_shown,
    order_payment_under_way,
    payment_state,
)
from payments.ecpay.checkout import (
    ecpay_checkout_form,
    ecpay_payment_awaiting_checkout,
    ecpay_result_verifies,
)
from payments.exceptions import (
    AmountOutOfRange,
    CurrencyMismatch,
    InsufficientBalance,
    InvalidPayment,
    OrderAlreadyPaid,
    OrderPaymentInProgress,
)
from payments.limits import ECPAY_PAGE_METHODS
from payments.models import Payment, PaymentKind, PaymentStatus
from payments.queue import pipeline_start
from payments.selectors import payment_unused
from payments.services import (
    payment_cancel,
    payment_mark_sent_to_gateway,
    payment_start_ecpay,
    payment_start_from_balance,
)


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
    except (OrderPaymentInProgress, OrderAlreadyPaid):
        # Another payment took the order meanwhile (a second tab, a double click): the page
        # shows it, and the customer decides.
        return _checkout_page(request, order, MethodForm(), status=409)
    except AmountOutOfRange as error:
        form.add_error(None, error.fields["amount"][0])
        return _checkout_page(request, order, form, status=400)
    except InvalidPayment:
        # ECPay takes whole New Taiwan dollars only: an order priced otherwise cannot go there.
        form.add_error(None, _("This order cannot be paid through ECPay. Please contact us."))
        return _checkout_page(request, order, form, status=400)
    return _to_ecpay(request, payment)


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
    return _to_ecpay(request, payment)


def _to_ecpay(request: HttpRequest, payment: Payment) -> HttpResponse:
    """The page that posts the signed form to ECPay. From here on ECPay may take money for the
    payment, so it is marked sent first; one no longer pending (another payment replaced it) is
    never handed out."""
    if not payment_mark_sent_to_gateway(payment_id=payment.pk):
        raise Http404
    checkout_form = ecpay_checkout_form(payment=payment, method=ECPAY_PAGE_METHODS[payment.method])
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
    except (OrderPaymentInProgress, OrderAlreadyPaid):
        return _checkout_page(request, order, MethodForm(), status=409)
    pipeline_start(payment.pk)
    return redirect("checkout:result", number)


@login_required
@require_POST
def checkout_cancel(request: HttpRequest, number: str) -> HttpResponse:
    """Cancel the order's payment under way, at its customer's word, to pay another way.

    The checkout page says what that means before the customer asks: an ATM account or store
    code paid after all, or a payment finished on ECPay's page meanwhile, is credited to their
    balance, not to the order.
    """
    order = _own_order(request, number)
    payment = order_payment_under_way(order=order)
    if payment is not None and payment.status == PaymentStatus.PENDING:
        try:
            payment_cancel(payment_id=payment.pk, actor=_customer(request))
        except DomainError as error:
            return _checkout_page(request, order, MethodForm(), status=409, error=error.message)
    return redirect("checkout:start", number)


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
    """The checkout: the ways to pay, or, while another payment holds the order, that payment,
    with what the customer may do about it (wait, or cancel it knowingly)."""
    balance = _customer(request).balance
    under_way = order_payment_under_way(order=order)
    if under_way is not None and payment_unused(under_way):
        under_way = None  # never sent to ECPay: a new choice simply replaces it
    context = {
        "order": order,
        "form": form,
        "balance": balance,
        "balance_covers": balance >= order.total,
        "error": error,
        "under_way": under_way,
        "under_way_state": payment_state(order=order, payment=under_way),
    }
    return render(request, "checkout/checkout.html", context, status=status)


def _payment_context(order: Order) -> dict[str, object]:
    payment = order_payment_shown(order=order)
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
