"""The status-machine check every aggregate's transition function makes."""

from collections.abc import Mapping

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
