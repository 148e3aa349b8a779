"""What every app's admin shares."""

from typing import Any

from django.contrib.admin import SimpleListFilter
from django.http import HttpRequest

# The query-string parameters Django's own list filters and date hierarchy write after a field's
# name: a choice or a boolean (`__exact`), a relation (`__id__exact`), a date range (`__gte`,
# `__lt`), the hierarchy (`__year` ...), empty or not (`__isnull`, `__isempty`).
_FILTER_SUFFIXES = (
    "",
    "__exact",
    "__id__exact",
    "__isnull",
    "__isempty",
    "__gte",
    "__lt",
    "__year",
    "__month",
    "__day",
)


class ListFilterLookupsOnly:
    """A list answers only the lookups its own filters and date hierarchy make.

    Django's admin also answers any lookup on a model's own fields and through a relation's
    primary key: `?card_token__startswith=tok_a` on the payments, or
    `?auth_token__key__startswith=3f` on the users (an API token's key is its primary key),
    tells whoever may view the list whether a secret the page never shows starts with a guess,
    and so, one character at a time, the whole secret. Every admin on the back office's site
    has this (`accounts.admin_site.BackOfficeSite.register` adds it); any other lookup answers
    400, as Django answers a lookup it refuses.
    """

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        filtered = _list_filter_names(self, request)
        if not any(lookup == name + suffix for name in filtered for suffix in _FILTER_SUFFIXES):
            return False
        allowed: bool = super().lookup_allowed(lookup, value, request)  # type: ignore[misc]
        return allowed


def _list_filter_names(model_admin: Any, request: HttpRequest | None) -> set[str]:
    names = set()
    if model_admin.date_hierarchy:
        names.add(model_admin.date_hierarchy)
    for item in model_admin.get_list_filter(request):
        if isinstance(item, type) and issubclass(item, SimpleListFilter):
            names.add(item.parameter_name)
        elif isinstance(item, (list, tuple)):
            names.add(item[0])
        else:
            names.add(item)
    return names


class ReadOnlyRecords:
    """An admin (or inline) for rows only the services write: ledger entries, events, gateway
    operations, callbacks, notifications, orders. Whoever may view them reads them; nobody adds,
    changes or deletes one here, a superuser neither (Django grants a superuser every
    permission, so the model's permissions cannot say no): a hand-made or deleted row breaks the
    sums and the evidence the services keep, as `manage.py check_ledger` would show.

    Without delete permission the admin drops its "delete selected" action; an admin's own
    actions check their own permissions (`has_<name>_permission`), never the change one.
    """

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
