"""`{% load times %}`: `{{ payment.completed_at|local_time }}` on the customers' pages, as the back
office shows times (core/times.py)."""

from datetime import datetime

from django import template

from core.times import local_time as _local_time

register = template.Library()


@register.filter
def local_time(moment: datetime | None) -> str:
    return _local_time(moment)
