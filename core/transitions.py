"""The status-machine check every aggregate's transition function makes."""

from collections.abc import Mapping

from django.db import transaction
from django.db.models import Model

from core.exceptions import IllegalTransition


def transition_needed(
    table: Mapping[str, frozenset[str]], *, what: str, from_status: str, to: str
) -> bool:
    """Whether `from_status` → `to` is a move to make (True) or one already made (False).

    Raises `IllegalTransition` if `table` does not allow it.
    """
    if from_status == to:
        return False
    if to not in table[from_status]:
        raise IllegalTransition(
            f"A {from_status} {what} cannot become {to}.", from_status=from_status, to_status=to
        )
    return True


def check_locked(row: Model, *, pk: int, what: str) -> None:
    """A transition handed a row its caller holds locked: it must be that row, inside the
    transaction that holds the lock (nothing here can see the lock itself)."""
    if row.pk != pk or not transaction.get_connection().in_atomic_block:
        raise ValueError(f"`locked` is this {what}, read under its lock in a transaction.")
