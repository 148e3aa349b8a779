"""What every gateway package speaks: typed errors that say what to do, and dataclass messages.

Protocol details (URLs, field names, status codes) stay inside each package; the rest of the
project sees only these types.
"""

from dataclasses import dataclass, field
from decimal import Decimal


class GatewayError(Exception):
    """Base of every gateway failure. `code` is stable and machine-readable."""

    code = "gateway_error"

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        if code is not None:
            self.code = code


class TransientGatewayError(GatewayError):
    """The request did not take effect (could not connect, 5xx, rate limited): retry later."""

    code = "transient"


class OutcomeUnknownError(GatewayError):
    """The request was sent but no answer came: it may have taken effect. Ask, never repeat."""

    code = "outcome_unknown"


class PermanentGatewayError(GatewayError):
    """Retrying will not help (bad request, bad credentials, unsupported): stop and alert."""

    code = "permanent"


class PaymentDeclinedError(PermanentGatewayError):
    """The provider refused the payment (declined, insufficient funds): tell the customer."""

    code = "declined"


class BadSignatureError(GatewayError):
    """A callback's signature does not verify: treat it as forged."""

    code = "bad_signature"


class MissingSecretError(PermanentGatewayError):
    """A gateway's secret is not set: nothing is signed with an empty key, which anybody could
    sign with too. Set it (docs/deploy.md, Gateways)."""

    code = "missing_secret"


@dataclass(frozen=True)
class CardDetails:
    """Card data as the customer typed it. Lives only in memory, on its way to tokenization:
    never stored, logged, queued or put in an error message (hence the redacted repr)."""

    number: str = field(repr=False)
    exp_month: int
    exp_year: int
    cvc: str = field(repr=False)


@dataclass(frozen=True)
class CardToken:
    """What the provider gives back for a card, and all we keep of it."""

    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class ChargeRequest:
    token: str
    amount: Decimal
    currency: str
    # Ours, one per operation: the provider answers a repeat with the first charge, and the
    # janitor finds the charge by it after a timeout.
    idempotency_key: str
    description: str = ""


@dataclass(frozen=True)
class ChargeResult:
    charge_id: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class RefundRequest:
    charge_id: str
    amount: Decimal
    currency: str
    idempotency_key: str


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    amount: Decimal
