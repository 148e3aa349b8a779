from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet

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


@admin.register(User)
class UserAdmin(DjangoUserAdmin[User]):
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "balance", "is_staff", "is_active")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("email", "first_name", "last_name")
    # Balance moves only through the ledger services, never by hand.
    readonly_fields = ("balance", "balance_currency", "last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Balance", {"fields": ("balance", "balance_currency")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    inlines = (LedgerEntryInline,)
