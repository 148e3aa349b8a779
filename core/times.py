"""Times as people read them: in the site's time zone, with that zone said."""

from datetime import datetime

from django.utils import timezone


def local_time(moment: datetime | None, *, seconds: bool = False) -> str:
    """A time in the site's time zone (TIME_ZONE), with that zone's offset said, so "21:31" is
    never taken for another zone's: "2026-12-04 21:31 UTC+08". "" for none."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    offset = local.strftime("%z")  # +0800
    zone = f"UTC{offset[:3]}" + (f":{offset[3:]}" if offset[3:] != "00" else "")
    return f"{local:%Y-%m-%d %H:%M{':%S' if seconds else ''}} {zone}"
