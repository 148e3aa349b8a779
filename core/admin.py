"""What every app's admin shares."""

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone


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


def local_time(moment: datetime | None, *, seconds: bool = False) -> str:
    """A time as staff read it: in the site's time zone (TIME_ZONE), with that zone's offset
    said, so "21:31" is never taken for another zone's. "" for none."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    offset = local.strftime("%z")  # +0800
    zone = f"UTC{offset[:3]}" + (f":{offset[3:]}" if offset[3:] != "00" else "")
    return f"{local:%Y-%m-%d %H:%M{':%S' if seconds else ''}} {zone}"
