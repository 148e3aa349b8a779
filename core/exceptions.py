"""The one base for errors the domain raises on purpose.

Each carries a stable machine-readable `code`, the HTTP status an entry point should answer with,
and optional per-field messages, so the API, the admin and commands can all report it the same way.
"""

from typing import Any


class DomainError(Exception):
    code = "domain_error"
    http_status = 400
    default_message = "The request cannot be carried out."
    # Which of the `extra` values a client is shown beside the code and message (the API's
    # error body); the rest is for logs and tests.
    shown_extra: tuple[str, ...] = ()

    def __init__(
        self,
        message: str | None = None,
        *,
        fields: dict[str, list[str]] | None = None,
        **extra: Any,
    ) -> None:
        self.message = message or self.default_message
        self.fields = fields or {}
        self.extra = extra
        super().__init__(self.message)

    @property
    def shown(self) -> dict[str, Any]:
        """The extra values a client is shown (`shown_extra`)."""
        return {name: self.extra[name] for name in self.shown_extra if name in self.extra}


class IllegalTransition(DomainError):
    """A status change the aggregate's transition table does not allow. Nothing was saved."""

    code = "illegal_transition"
    http_status = 409
    default_message = "That status change is not allowed."
