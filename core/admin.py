"""What every app's admin shares."""

from typing import Any

from django.http import HttpRequest


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
