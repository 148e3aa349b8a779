"""The back office's payments: find one by any reference, read its timeline, and act on it.

Every action checks its own permission (being staff is never enough), asks for confirmation on
a page of its own, and goes through a service that writes an event with the member of staff.
Nothing here writes a status or an amount: the payment pages are read-only.
"""

import csv
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.admin import ActionPermissions, staff_member
from accounts.models import User
from core.admin import ReadOnlyRecords
from core.exceptions import DomainError
from core.models import MONEY_MAX_DIGITS
from core.times import local_time
from gateways.models import GatewayCallback
from notifications.models import Notification
from orders.models import Order
from payments.admin.payment_list import CappedCountPaginator, WorkQueueFilter
from payments.admin.payment_page import page_actions, payment_summary, return_to_payment_page
from payments.ecpay.reconciliation import payment_requery
from payments.models import (
    GatewayOperation,
    Payment,
    PaymentEvent,
    RefundApproval,
)
from payments.queue import PAYMENT_RESUME, queue_after_commit
from payments.refunds.approvals import refund_ask
from payments.refunds.processing import ecpay_refund_settle_checked, ecpay_refund_unknown
from payments.services import (
    payment_mark_reviewed,
    payment_note_add,
    payment_reprocess,
    payments_staff_event_record,
)
from payments.services.reviews import NOTE_MAX_LENGTH

# ECPay answers 403 to a merchant that queries too often: a few payments per click.
REQUERY_AT_ONCE = 10


class ReadOnlyInline(ReadOnlyRecords, admin.TabularInline):  # type: ignore[type-arg]
    """A payment's records, in time order: evidence, never edited here."""

    extra = 0
    can_delete = False
    show_change_link = False
    ordering = ("created_at", "pk")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Part of the payment's page: whoever may see the payment sees its timeline.
        return request.user.has_perm("payments.view_payment")


class PaymentEventInline(ReadOnlyInline):
    model = PaymentEvent
    verbose_name_plural = gettext_lazy("timeline")
    fields = ("when", "type", "status_change", "error", "actor", "data")
    readonly_fields = fields

    @admin.display(description=gettext_lazy("when"))
    def when(self, event: PaymentEvent) -> str:
        return local_time(event.created_at, seconds=True)

    @admin.display(description=gettext_lazy("status"))
    def status_change(self, event: PaymentEvent) -> str:
        if not event.to_status:
            return ""
        return f"{event.from_status or '∅'} → {event.to_status}"

    @admin.display(description=gettext_lazy("error"))
    def error(self, event: PaymentEvent) -> str:
        # Said only where there is one: a mark on every event would read as one on each.
        if not event.is_error:
            return ""
        return format_html('<span class="badge badge-failed">{}</span>', _("error"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[PaymentEvent]:
        return super().get_queryset(request).select_related("actor")


class GatewayCallbackInline(ReadOnlyInline):
    model = GatewayCallback
    verbose_name_plural = gettext_lazy("raw callbacks")
    fields = ("created_at", "gateway", "external_reference", "signature_valid", "outcome", "body")
    readonly_fields = fields


class NotificationInline(ReadOnlyInline):
    model = Notification
    fields = ("created_at", "event", "channel", "recipient", "status", "attempts", "sent_at")
    readonly_fields = fields


class GatewayOperationInline(ReadOnlyInline):
    """The calls that moved money: the charge, and each refund with who asked and why."""

    model = GatewayOperation
    verbose_name_plural = gettext_lazy("charges and refunds")
    fields = ("created_at", "kind", "amount", "status", "external_id", "reason", "error_message")
    readonly_fields = fields


class RefundApprovalInline(ReadOnlyInline):
    model = RefundApproval
    verbose_name_plural = gettext_lazy("refunds waiting for approval")
    fields = ("created_at", "amount", "reason", "requested_by", "status", "decided_by")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[RefundApproval]:
        return super().get_queryset(request).select_related("requested_by", "decided_by")


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        required=False,
        min_value=Decimal("0.01"),
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=2,
        help_text=gettext_lazy("Leave empty to refund all that is left."),
    )
    reason = forms.CharField(
        max_length=255, help_text=gettext_lazy("Kept on the payment's timeline.")
    )


class RefundCheckForm(forms.Form):
    outcome = forms.ChoiceField(
        label=gettext_lazy("What ECPay's back office shows"),
        choices=[
            ("made", gettext_lazy("ECPay refunded it")),
            ("not_made", gettext_lazy("ECPay did not refund it")),
        ],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        max_length=1000, help_text=gettext_lazy("Kept on the payment's timeline.")
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=1000, help_text=gettext_lazy("Kept on the payment's timeline.")
    )


class NoteForm(forms.Form):
    note = forms.CharField(
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("Shown on each payment's timeline, with your name and the time."),
    )


@admin.register(Payment)
class PaymentAdmin(ActionPermissions, ReadOnlyRecords, admin.ModelAdmin[Payment]):
    """Every write goes through a service, from an action: the pages themselves are read-only."""

    action_permissions = {
        "reprocess": "payments.reprocess_payment",
        "review": "payments.review_payment",
        "refund": "payments.refund_payment",
        "export": "payments.export_payment",
    }

    # What a reviewer reads first, within a 1280 px window (static/css/admin.css): the order is
    # on the payment's page and found by the search.
    list_display = (
        "short_id",
        "customer",
        "amount_display",
        "status_badge",
        "gateway_and_method",
        "created_local",
        "review_flag",
    )
    list_display_links = ("short_id",)
    # No date_hierarchy: its year list is a DISTINCT over every payment's local date
    # (CONVERT_TZ on each row), seconds at a million payments. The date filter's ranges
    # (today, past 7 days, this month, this year) are bounds on created_at computed in Python,
    # which payment_created_idx serves. Keeping created_at in list_filter also keeps the
    # dashboard's links (`created_at__lt=...`) allowed.
    list_filter = (
        WorkQueueFilter,
        "status",
        "gateway",
        "method",
        "needs_review",
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("public_id",)  # shows the box; get_search_results does the searching
    search_help_text = gettext_lazy(
        "Exact reference: payment id, MerchantTradeNo, gateway trade number, wallet payment id, "
        "order number or customer email."
    )
    list_per_page = 50
    show_full_result_count = False
    paginator = CappedCountPaginator
    # Newest first, walked backwards along payment_created_idx (an InnoDB secondary index ends
    # with the primary key, so it is in (created_at, id) order) and stopped after one page.
    ordering = ("-created_at", "-pk")
    # Sorting by any other column (customer, amount, status...) sorts every payment on disk:
    # staff narrow the list with the filters and the search instead.
    sortable_by = ()
    readonly_fields = (
        "public_id",
        "kind",
        "user",
        "order",
        "status",
        "needs_review",
        "failure_reason",
        "gateway",
        "method",
        "amount",
        "currency",
        "refunded_amount",
        "merchant_trade_no",
        "gateway_reference",
        "card_brand",
        "card_last4",
        "payment_code",
        "payment_code_bank",
        "payment_code_expires_at",
        "attempts",
        "created_at",
        "completed_at",
    )
    # The summary above says what a reviewer reads first; every field stays one click away.
    fieldsets = (
        (gettext_lazy("Every field"), {"fields": readonly_fields, "classes": ("collapse",)}),
    )
    inlines = (
        PaymentEventInline,
        GatewayCallbackInline,
        NotificationInline,
        GatewayOperationInline,
        RefundApprovalInline,
    )
    actions = (
        "reprocess",
        "mark_reviewed",
        "add_note",
        "requery",
        "refund",
        "settle_unknown_refund",
        "export_csv",
    )
    change_form_template = "admin/payments/payment/change_form.html"

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Payment | None = None,
    ) -> HttpResponse:
        # The summary and the actions at hand, from the payment the page already holds.
        if obj is not None:
            context.update(
                summary=payment_summary(obj),
                page_actions=page_actions(obj, self.get_actions(request)),
                action_checkbox_name=ACTION_CHECKBOX_NAME,
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def response_action(self, request: HttpRequest, queryset: QuerySet[Payment]) -> Any:
        # An action started on a payment's page ends there, not on the list.
        response = super().response_action(request, queryset)
        back = return_to_payment_page(request)
        # Django ends an action that answers nothing with a redirect to the list (None when
        # the action was refused): this one goes back to the payment's page instead.
        to_list = response is None or (
            isinstance(response, HttpResponseRedirect) and response.url == request.get_full_path()
        )
        if back and to_list:
            return HttpResponseRedirect(back)
        return response

    def get_queryset(self, request: HttpRequest) -> QuerySet[Payment]:
        # The page's customers by primary key, in one query after the page: a JOIN lets
        # MariaDB start from the users table and sort every payment to find the newest fifty.
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("user", queryset=User.objects.only("email")))
        )

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        return self.action_allowed(request, "reprocess")

    def has_review_permission(self, request: HttpRequest) -> bool:
        return self.action_allowed(request, "review")

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return self.action_allowed(request, "refund")

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.action_allowed(request, "export")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Payment], search_term: str
    ) -> tuple[QuerySet[Payment], bool]:
        """Exact matches on indexed references: a `LIKE '%...%'` over every payment would read
        the whole table, and staff always paste a whole reference."""
        term = search_term.strip()
        if not term:
            return queryset, False
        # The customer and the order first, each by its unique index, so the one query on
        # payments is an OR of its own indexed columns (MariaDB merges the indexes).
        user_ids = list(User.objects.filter(email__iexact=term).values_list("pk", flat=True))
        order_ids = list(Order.objects.filter(number=term).values_list("pk", flat=True))
        match = (
            Q(public_id=term)
            | Q(merchant_trade_no=term)
            | Q(gateway_reference=term)
            | Q(order_id__in=order_ids)
            | Q(user_id__in=user_ids)
        )
        return queryset.filter(match), False

    @admin.display(description=gettext_lazy("payment"))
    def short_id(self, payment: Payment) -> str:
        # pay_ and 24 characters: the start and the end tell payments apart at a glance.
        return format_html(
            '<span title="{}">{}…{}</span>',
            payment.public_id,
            payment.public_id[:8],
            payment.public_id[-4:],
        )

    @admin.display(description=gettext_lazy("customer"))
    def customer(self, payment: Payment) -> str:
        return format_html('<span class="cell-clip" title="{0}">{0}</span>', payment.user.email)

    @admin.display(description=gettext_lazy("gateway / method"))
    def gateway_and_method(self, payment: Payment) -> str:
        return f"{payment.get_gateway_display()} / {payment.get_method_display()}"

    @admin.display(description=gettext_lazy("amount"))
    def amount_display(self, payment: Payment) -> str:
        return format_html(
            '<span class="cell-amount">{} {}</span>', f"{payment.amount:,}", payment.currency
        )

    @admin.display(description=gettext_lazy("status"))
    def status_badge(self, payment: Payment) -> str:
        return format_html(
            '<span class="badge badge-{}">{}</span>', payment.status, payment.get_status_display()
        )

    @admin.display(description=gettext_lazy("created"))
    def created_local(self, payment: Payment) -> str:
        return local_time(payment.created_at)

    @admin.display(description=gettext_lazy("review"))
    def review_flag(self, payment: Payment) -> str:
        if not payment.needs_review:
            return ""
        return format_html('<span class="badge badge-review">{}</span>', "needs review")

    @admin.action(
        description=gettext_lazy("Reprocess (dead letters only)"), permissions=["reprocess"]
    )
    def reprocess(self, request: HttpRequest, queryset: QuerySet[Payment]) -> HttpResponse | None:
        payments = list(queryset.order_by("pk"))
        if request.POST.get("post") != "yes":
            return self._confirm(
                request,
                payments,
                action="reprocess",
                title=_("Reprocess payments"),
                intro=_(
                    "Run the pipeline again for these failed payments? It never charges a "
                    "payment twice. Only failed payments that need review are taken."
                ),
                submit=_("Yes, reprocess them"),
            )
        actor = staff_member(request)
        for payment in payments:
            # The service `reprocess_payments` uses, then its next step, as the command does.
            try:
                payment_reprocess(payment_id=payment.pk, actor=actor)
            except DomainError as error:
                self._refused(request, payment, error)
                continue
            queue_after_commit(PAYMENT_RESUME, payment.pk)
            self.message_user(
                request, _("Reprocessing %(payment)s.") % {"payment": payment}, messages.SUCCESS
            )
        return None

    @admin.action(description=gettext_lazy("Mark reviewed"), permissions=["review"])
    def mark_reviewed(
        self, request: HttpRequest, queryset: QuerySet[Payment]
    ) -> HttpResponse | None:
        payments = list(queryset.order_by("pk"))
        form = ReasonForm(request.POST if request.POST.get("post") == "yes" else None)
        if not form.is_valid():
            return self._confirm(
                request,
                payments,
                action="mark_reviewed",
                title=_("Mark payments reviewed"),
                intro=_("Take these payments out of the review queue? Say why."),
                submit=_("Yes, mark them reviewed"),
                form=form,
            )
        actor = staff_member(request)
        for payment in payments:
            payment_mark_reviewed(
                payment_id=payment.pk, actor=actor, reason=form.cleaned_data["reason"]
            )
        self.message_user(request, f"{len(payments)} payment(s) marked reviewed.")
        return None

    @admin.action(description=gettext_lazy("Add a note"), permissions=["review"])
    def add_note(self, request: HttpRequest, queryset: QuerySet[Payment]) -> HttpResponse | None:
        payments = list(queryset.order_by("pk"))
        form = NoteForm(request.POST if request.POST.get("post") == "yes" else None)
        if not form.is_valid():
            return self._confirm(
                request,
                payments,
                action="add_note",
                title=_("Add a note"),
                intro=_("What did you find? The note goes on the timeline of each payment below."),
                submit=_("Add the note"),
                form=form,
            )
        actor = staff_member(request)
        for payment in payments:
            payment_note_add(payment_id=payment.pk, actor=actor, text=form.cleaned_data["note"])
        self.message_user(
            request,
            ngettext(
                "Note added to %(count)d payment.",
                "Note added to %(count)d payments.",
                len(payments),
            )
            % {"count": len(payments)},
            messages.SUCCESS,
        )
        return None

    @admin.action(description=gettext_lazy("Re-query the gateway (ECPay)"), permissions=["review"])
    def requery(self, request: HttpRequest, queryset: QuerySet[Payment]) -> HttpResponse | None:
        payments = list(queryset.order_by("pk")[:REQUERY_AT_ONCE])
        if request.POST.get("post") != "yes":
            return self._confirm(
                request,
                payments,
                action="requery",
                title=_("Re-query the gateway"),
                intro=_(
                    "Ask ECPay what it knows of these payments now? A payment it says is paid "
                    "is recovered as a lost notification would be; a difference is recorded. At "
                    "most %(count)s at a time: ECPay stops answering a merchant that asks too "
                    "often."
                )
                % {"count": REQUERY_AT_ONCE},
                submit=_("Yes, ask ECPay"),
            )
        actor = staff_member(request)
        for payment in payments:
            try:
                event = payment_requery(payment_id=payment.pk, actor=actor)
            except DomainError as error:
                self._refused(request, payment, error)
                continue
            if event.is_error:
                text = _("Payment %(payment)s: could not ask ECPay (%(error)s).") % {
                    "payment": payment,
                    "error": event.data["error"],
                }
            elif event.data["paid"]:
                text = _("Payment %(payment)s: ECPay says paid; the payment is %(status)s.") % {
                    "payment": payment,
                    "status": event.data["status_after"],
                }
            else:
                text = _("Payment %(payment)s: ECPay says not paid; the payment is %(status)s.") % {
                    "payment": payment,
                    "status": event.data["status_after"],
                }
            level = messages.WARNING if event.is_error else messages.SUCCESS
            self.message_user(request, text, level)
        return None

    @admin.action(description=gettext_lazy("Refund (one payment)"), permissions=["refund"])
    def refund(self, request: HttpRequest, queryset: QuerySet[Payment]) -> HttpResponse | None:
        payments = list(queryset.order_by("pk")[:2])
        if len(payments) != 1:
            self.message_user(request, _("Refund one payment at a time."), messages.WARNING)
            return None
        payment = payments[0]
        form = RefundForm(request.POST if request.POST.get("post") == "yes" else None)
        if not form.is_valid():
            return self._confirm(
                request,
                payments,
                action="refund",
                title=_("Refund a payment"),
                intro=_(
                    "Refund %(payment)s (%(left)s %(currency)s left to refund) through its "
                    "gateway? If it and what the payment has already refunded and has pending "
                    "come to more than %(threshold)s, a second manager must approve it first."
                )
                % {
                    "payment": payment,
                    "left": payment.amount - payment.refunded_amount,
                    "currency": payment.currency,
                    "threshold": settings.REFUND_APPROVAL_THRESHOLD,
                },
                submit=_("Yes, refund"),
                form=form,
            )
        try:
            asked = refund_ask(
                payment_id=payment.pk,
                amount=form.cleaned_data["amount"],
                reason=form.cleaned_data["reason"],
                actor=staff_member(request),
            )
        except DomainError as error:
            self._refused(request, payment, error)
            return None
        if asked.approval is not None:
            self.message_user(
                request,
                _("Payment %(payment)s: the refund waits for a second manager's approval.")
                % {"payment": payment},
                messages.WARNING,
            )
        else:
            self.message_user(
                request,
                _("Payment %(payment)s: refund asked of the gateway.") % {"payment": payment},
                messages.SUCCESS,
            )
        return None

    @admin.action(
        description=gettext_lazy("Settle an unknown ECPay refund (one payment)"),
        permissions=["refund"],
    )
    def settle_unknown_refund(
        self, request: HttpRequest, queryset: QuerySet[Payment]
    ) -> HttpResponse | None:
        payments = list(queryset.order_by("pk")[:2])
        unknown = ecpay_refund_unknown(payments[0].pk) if len(payments) == 1 else None
        if unknown is None:
            self.message_user(
                request,
                _("Choose one payment with an ECPay refund whose outcome is unknown."),
                messages.WARNING,
            )
            return None
        payment = payments[0]
        form = RefundCheckForm(request.POST if request.POST.get("post") == "yes" else None)
        if not form.is_valid():
            return self._confirm(
                request,
                payments,
                action="settle_unknown_refund",
                title=_("Settle an unknown ECPay refund"),
                intro=_(
                    "ECPay's answer to the refund of %(amount)s %(currency)s of %(payment)s was "
                    "lost: look it up in ECPay's back office. Refunded, it counts against the "
                    "payment and the customer is emailed; not refunded, it fails and may be "
                    "asked again."
                )
                % {"amount": unknown.amount, "currency": unknown.currency, "payment": payment},
                submit=_("Settle it"),
                form=form,
            )
        try:
            operation = ecpay_refund_settle_checked(
                refund_key=unknown.idempotency_key,
                made=form.cleaned_data["outcome"] == "made",
                actor=staff_member(request),
                note=form.cleaned_data["note"],
            )
        except DomainError as error:
            self._refused(request, payment, error)
            return None
        self.message_user(
            request,
            _("Payment %(payment)s: the refund is %(status)s.")
            % {"payment": payment, "status": operation.get_status_display()},
            messages.SUCCESS,
        )
        return None

    @admin.action(description=gettext_lazy("Export as CSV"), permissions=["export"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Payment]) -> HttpResponse | None:
        if request.POST.get("post") != "yes":
            return self._confirm(
                request,
                list(queryset.order_by("pk")),
                action="export_csv",
                title=_("Export payments"),
                intro=_("Download these payments as CSV? The export is kept on their timelines."),
                submit=_("Yes, download"),
            )
        payments = list(queryset.select_related("user", "order").order_by("pk"))
        payments_staff_event_record(
            payment_ids=[p.pk for p in payments],
            type="exported",
            actor=staff_member(request),
            data={"format": "csv"},
        )
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="payments.csv"'
        writer = csv.writer(response)
        writer.writerow(EXPORT_COLUMNS)
        for payment in payments:
            writer.writerow(_export_row(payment))
        return response

    def _refused(self, request: HttpRequest, payment: Payment, error: DomainError) -> None:
        """Tell staff an action's service refused `payment`, in the service's own words."""
        self.message_user(
            request,
            _("Payment %(payment)s: %(error)s") % {"payment": payment, "error": error.message},
            messages.ERROR,
        )

    def _confirm(
        self,
        request: HttpRequest,
        payments: Sequence[Payment],
        *,
        action: str,
        title: str,
        intro: str,
        submit: str,
        form: forms.Form | None = None,
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "intro": intro,
            "rows": [_describe(p) for p in payments],
            "selected": [p.pk for p in payments],
            "action": action,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "submit": submit,
            "form": form,
            "return_to": return_to_payment_page(request),
        }
        return TemplateResponse(request, "admin/payments/payment/action_confirmation.html", context)


EXPORT_COLUMNS = (
    "payment",
    "created_at",
    "customer",
    "order",
    "kind",
    "gateway",
    "method",
    "amount",
    "refunded_amount",
    "currency",
    "status",
    "needs_review",
    "merchant_trade_no",
    "gateway_reference",
)


# A cell a spreadsheet would read as a formula: = + - @, or a tab or carriage return before one.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _spreadsheet_text(cell: str) -> str:
    """The cell as text a spreadsheet shows, never runs: the export is opened in one, and a
    customer chooses their email address (`=HYPERLINK(...)@example.com` is a valid one) and a
    gateway its references. A leading `'` makes the cell text (OWASP's advice for CSV)."""
    return f"'{cell}" if cell.startswith(_FORMULA_STARTS) else cell


def _export_row(payment: Payment) -> list[str]:
    return [_spreadsheet_text(cell) for cell in _export_cells(payment)]


def _export_cells(payment: Payment) -> list[str]:
    return [
        payment.public_id,
        payment.created_at.isoformat(),
        payment.user.email,
        payment.order.number if payment.order else "",
        payment.kind,
        payment.gateway,
        payment.method,
        str(payment.amount),
        str(payment.refunded_amount),
        payment.currency,
        payment.status,
        "yes" if payment.needs_review else "no",
        payment.merchant_trade_no or "",
        payment.gateway_reference or "",
    ]


def _describe(payment: Payment) -> str:
    review = ", needs review" if payment.needs_review else ""
    return f"{payment}: {payment.amount} {payment.currency}, {payment.status}{review}"
