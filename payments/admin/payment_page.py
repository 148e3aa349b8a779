"""A payment's page read top-down: a summary of what a reviewer asks first, then the actions
their role allows on it, then the records (templates/admin/payments/payment/change_form.html).

The actions post to the payment list's own action handler with this payment selected, so each
goes through the same permission check, confirmation page and service as from the list, and
comes back to this page (`return_to`).
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from core.times import local_time
from gateways.models import Gateway
from payments.exceptions import PaymentNotRefundable
from payments.models import Payment, PaymentKind, PaymentStatus
from payments.refunds.processing import ecpay_refund_unknown
from payments.refunds.services import refund_check_allowed
from payments.selectors import payment_review_reason

# The actions a payment's page offers, in the order a reviewer reaches for them.
PAGE_ACTIONS = (
    "mark_reviewed",
    "add_note",
    "refund",
    "settle_unknown_refund",
    "requery",
    "reprocess",
    "export_csv",
)


@dataclass(frozen=True)
class SummaryRow:
    label: str
    value: SafeString | str


@dataclass(frozen=True)
class PageAction:
    name: str
    label: str


def payment_summary(payment: Payment) -> list[SummaryRow]:
    """What the payment is, who it is for and where it stands, as a reviewer reads it."""
    user = payment.user
    rows = [
        SummaryRow(_("Amount"), _amount(payment)),
        SummaryRow(_("Status"), _status(payment)),
        SummaryRow(_("Review"), _review(payment)),
        SummaryRow(
            _("Customer"),
            format_html(
                '<a href="{}">{}</a> <span class="quiet">{} {} {}</span>',
                reverse("admin:accounts_user_change", args=[user.pk]),
                user.email,
                _("balance"),
                f"{user.balance:,}",
                user.balance_currency,
            ),
        ),
        SummaryRow(_("For"), _purpose(payment)),
        SummaryRow(
            _("Gateway"),
            f"{payment.get_gateway_display()} / {payment.get_method_display()}",
        ),
    ]
    references = _references(payment)
    if references:
        rows.append(SummaryRow(_("References"), references))
    if payment.card_last4:
        rows.append(SummaryRow(_("Card"), f"{payment.card_brand} •••• {payment.card_last4}"))
    if payment.payment_code:
        rows.append(
            SummaryRow(
                _("Payment code"),
                f"{payment.payment_code} {payment.payment_code_bank} "
                + _("(until %(time)s)") % {"time": local_time(payment.payment_code_expires_at)},
            )
        )
    rows.append(
        SummaryRow(
            _("Created"),
            local_time(payment.created_at)
            + (
                _(", completed %(time)s") % {"time": local_time(payment.completed_at)}
                if payment.completed_at
                else ""
            ),
        )
    )
    return rows


def page_actions(payment: Payment, allowed: Iterable[str]) -> list[PageAction]:
    """The actions `allowed` to this member of staff (their role's) that make sense for this
    payment now; each action still checks for itself."""
    allowed = set(allowed)
    makes_sense = {
        "mark_reviewed": payment.needs_review,
        "add_note": True,
        "refund": _refundable(payment),
        # Asked only of a refundable ECPay payment, the one kind that can have such a refund.
        "settle_unknown_refund": payment.gateway == Gateway.ECPAY
        and payment.status in (PaymentStatus.COMPLETED, PaymentStatus.REFUNDED)
        and ecpay_refund_unknown(payment.pk) is not None,
        "requery": payment.gateway == Gateway.ECPAY,
        "reprocess": payment.status == PaymentStatus.FAILED and payment.needs_review,
        "export_csv": True,
    }
    labels = {
        "mark_reviewed": _("Mark reviewed…"),
        "add_note": _("Add a note…"),
        "refund": _("Refund…"),
        "settle_unknown_refund": _("Settle the unknown refund…"),
        "requery": _("Ask ECPay…"),
        "reprocess": _("Reprocess…"),
        "export_csv": _("Export as CSV…"),
    }
    return [
        PageAction(name, labels[name])
        for name in PAGE_ACTIONS
        if name in allowed and makes_sense[name]
    ]


def _refundable(payment: Payment) -> bool:
    """Whether the refund service would take this payment (not a deposit, a gateway and method
    it refunds, completed) with something left to refund."""
    try:
        refund_check_allowed(payment)
    except PaymentNotRefundable:
        return False
    return bool(payment.refunded_amount < payment.amount)


def payment_page_url(payment_id: int | str) -> str:
    return reverse("admin:payments_payment_change", args=[payment_id])


def return_to_payment_page(request: HttpRequest) -> str | None:
    """The payment's page an action was started from, if it was one and names the one payment
    the action is about; None otherwise (the action then ends on the list, as from the list)."""
    return_to = request.POST.get("return_to", "")
    selected = request.POST.getlist(ACTION_CHECKBOX_NAME)
    if len(selected) == 1 and return_to == payment_page_url(selected[0]):
        return return_to
    return None


def _amount(payment: Payment) -> SafeString:
    amount = format_html("<strong>{} {}</strong>", f"{payment.amount:,}", payment.currency)
    if payment.refunded_amount:
        return format_html(
            '{} <span class="quiet">refunded {} {}</span>',
            amount,
            _("refunded"),
            f"{payment.refunded_amount:,}",
            payment.currency,
        )
    return amount


def _status(payment: Payment) -> SafeString:
    badge = format_html(
        '<span class="badge badge-{}">{}</span>', payment.status, payment.get_status_display()
    )
    if payment.failure_reason:
        return format_html('{} <span class="quiet">{}</span>', badge, payment.failure_reason)
    return badge


def _review(payment: Payment) -> SafeString | str:
    if not payment.needs_review:
        return _("Nothing to review")
    reason = payment_review_reason(payment) or payment.failure_reason
    return format_html('<span class="badge badge-review">needs review</span> {}', reason or "")


def _purpose(payment: Payment) -> SafeString | str:
    if payment.kind == PaymentKind.ORDER and payment.order is not None:
        order = payment.order
        return format_html(
            '{} <a href="{}">{}</a> <span class="quiet">{} {}, {}</span>',
            _("order"),
            reverse("admin:orders_order_change", args=[order.pk]),
            order.number,
            f"{order.total:,}",
            order.currency,
            order.get_status_display(),
        )
    return payment.get_kind_display()


def _references(payment: Payment) -> SafeString:
    pairs = [
        (_("payment id"), payment.public_id),
        ("MerchantTradeNo", payment.merchant_trade_no),
        (_("gateway's reference"), payment.gateway_reference),
    ]
    return format_html_join(
        " ",
        '<span class="reference"><span class="quiet">{}</span> <code>{}</code></span>',
        ((label, value) for label, value in pairs if value),
    )
