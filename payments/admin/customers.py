"""A customer's page in the back office: their payments, balance and ledger, orders and sign-in
lockouts in one place (templates/admin/accounts/user/change_form.html), each part shown to staff
whose role may see it."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from axes.models import AccessAttempt
from django.contrib import admin
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.admin import UserAdmin
from accounts.models import User
from accounts.selectors import is_locked_out, sign_in_attempts_of
from accounts.two_factor import has_authenticator, recovery_codes_left, two_factor_required
from core.admin import ReadOnlyRecords
from core.times import local_time
from orders.models import Order
from orders.selectors import orders_of
from payments.models import LedgerEntry, Payment
from payments.selectors import payments_of

# The user page shows this many of the newest ledger entries; the ledger's own list has all.
LEDGER_ENTRIES_SHOWN = 20
# And this many of the newest payments and orders, with a link to all of them.
NEWEST_SHOWN = 10


@dataclass(frozen=True)
class Lockout:
    address: str
    failures: int
    last_attempt: str
    locked: bool
    url: str


@dataclass
class CustomerOverview:
    """What staff see of one customer at the top of their page; a part is None where the
    viewer's role may not see it."""

    balance: str
    two_factor: str
    payments: list[Payment] | None = None
    all_payments_url: str = ""
    orders: list[Order] | None = None
    all_orders_url: str = ""
    lockouts: list[Lockout] | None = None


def customer_overview(request: HttpRequest, customer: User) -> CustomerOverview:
    overview = CustomerOverview(
        balance=f"{customer.balance:,} {customer.balance_currency}",
        two_factor=_two_factor_state(customer),
    )
    viewer = request.user
    if viewer.has_perm("payments.view_payment"):
        overview.payments = list(payments_of(customer=customer)[:NEWEST_SHOWN])
        overview.all_payments_url = _search("admin:payments_payment_changelist", customer.email)
    if viewer.has_perm("orders.view_order"):
        overview.orders = list(orders_of(customer=customer)[:NEWEST_SHOWN])
        overview.all_orders_url = _search("admin:orders_order_changelist", customer.email)
    if viewer.has_perm("axes.view_accessattempt"):
        overview.lockouts = [
            _lockout(attempt) for attempt in sign_in_attempts_of(email=customer.email)
        ]
    return overview


def _two_factor_state(user: User) -> str:
    if has_authenticator(user):
        return _("on (%(count)s recovery codes left)") % {"count": recovery_codes_left(user)}
    if two_factor_required(user):
        return _("needed and not set up: give them a link (manage.py two_factor_link)")
    return _("off")


def _lockout(attempt: AccessAttempt) -> Lockout:
    return Lockout(
        address=attempt.ip_address or "",
        failures=attempt.failures_since_start,
        last_attempt=local_time(attempt.attempt_time),
        locked=is_locked_out(attempt),
        url=reverse("admin:axes_accessattempt_change", args=[attempt.pk]),
    )


def _search(changelist: str, term: str) -> str:
    return f"{reverse(changelist)}?{urlencode({'q': term})}"


class NewestLedgerEntries(BaseInlineFormSet):  # type: ignore[type-arg]
    def get_queryset(self) -> QuerySet[LedgerEntry]:
        # Sliced after the formset's filter on the user, not before it.
        entries: QuerySet[LedgerEntry] = super().get_queryset()
        return entries.select_related("payment").order_by("-created_at", "-pk")[
            :LEDGER_ENTRIES_SHOWN
        ]


class LedgerEntryInline(ReadOnlyRecords, admin.TabularInline[LedgerEntry, User]):
    """The user's newest ledger entries. Entries are written only by the ledger services, with
    the balance, so they are never added, changed or deleted here."""

    model = LedgerEntry
    formset = NewestLedgerEntries
    fields = ("created_at", "entry_type", "amount", "currency", "balance_after", "payment")
    readonly_fields = fields
    verbose_name_plural = f"ledger entries (the newest {LEDGER_ENTRIES_SHOWN})"
    extra = 0


# The user's page is accounts' (accounts.admin.UserAdmin); the ledger is payments', and accounts
# sit below payments (docs/architecture.md), so the ledger joins the page from here: Django
# registers accounts' admin first (INSTALLED_APPS order), and this replaces it with itself plus
# the ledger.
class UserWithLedgerAdmin(UserAdmin):
    inlines = (LedgerEntryInline,)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: User | None = None,
    ) -> HttpResponse:
        # The overview, from the user the page already holds.
        if obj is not None:
            context["customer"] = customer_overview(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)


admin.site.unregister(User)
admin.site.register(User, UserWithLedgerAdmin)
