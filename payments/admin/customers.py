"""The customer's page in the back office, with their newest ledger entries."""

from django.contrib import admin
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet

from accounts.admin import UserAdmin
from accounts.models import User
from core.admin import ReadOnlyRecords
from payments.models import LedgerEntry

# The user page shows this many of the newest ledger entries; the ledger's own list has all.
LEDGER_ENTRIES_SHOWN = 20


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


admin.site.unregister(User)
admin.site.register(User, UserWithLedgerAdmin)
