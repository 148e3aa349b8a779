"""Walking a large table in batches of primary keys, so memory stays flat however many rows."""

from collections.abc import Iterator
from typing import Any, TypeVar

from django.db.models import Model, QuerySet

BATCH_SIZE = 500

M = TypeVar("M", bound=Model)


def ids_in_batches(
    queryset: QuerySet[Any], *, limit: int | None = None, size: int = BATCH_SIZE
) -> Iterator[list[int]]:
    """The primary keys `queryset` selects, ascending, in lists of at most `size`.

    One query a batch, by keyset (`pk > last`), not OFFSET: each batch costs the same however
    deep into the table it is, and rows that change meanwhile (a processed payment leaving the
    selection) neither shift the next batch nor get skipped. `limit` caps the total.
    """
    last: int | None = None
    remaining = limit
    while remaining is None or remaining > 0:
        batch_size = size if remaining is None else min(size, remaining)
        page = queryset.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        ids = list(page.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return
        yield ids
        if len(ids) < batch_size:
            return
        last = ids[-1]
        if remaining is not None:
            remaining -= len(ids)


def rows_in_batches(
    queryset: QuerySet[M], *, limit: int | None = None, size: int = BATCH_SIZE
) -> Iterator[list[M]]:
    """The rows themselves, a batch of primary keys at a time (two queries a batch). A row
    that left the selection between the two is left out."""
    for ids in ids_in_batches(queryset, limit=limit, size=size):
        yield list(queryset.filter(pk__in=ids).order_by("pk"))
