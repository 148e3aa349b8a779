"""The simulator's test cards: a card's number decides what charging it does.

Every number below passes the Luhn check; any other valid card approves. The number itself is
never stored: tokenizing a card keeps its script (outcome and transient failures) instead.

    APPROVE               4242424242424242  approves (visa)
    APPROVE_MASTERCARD    5555555555554444  approves (mastercard)
    DECLINE               4000000000000002  402, decline code card_declined
    INSUFFICIENT_FUNDS    4000000000009995  402, decline code insufficient_funds
    TRANSIENT_ONCE        4000000000000101  first attempt 503, then approves
    TRANSIENT_TWICE       4000000000000200  first two attempts 503, then approves
    TRANSIENT_THRICE      4000000000000309  first three attempts 503, then approves
    TIMEOUT_AFTER_CHARGE  4000000000000408  approves, but answers only after
                                            CARD_SIMULATOR_SLOW_SECONDS: the caller times out

Transient failures are counted per token, across idempotency keys.
"""

from dataclasses import dataclass

from django.db import models

APPROVE = "4242424242424242"
APPROVE_MASTERCARD = "5555555555554444"
DECLINE = "4000000000000002"
INSUFFICIENT_FUNDS = "4000000000009995"
TRANSIENT_ONCE = "4000000000000101"
TRANSIENT_TWICE = "4000000000000200"
TRANSIENT_THRICE = "4000000000000309"
TIMEOUT_AFTER_CHARGE = "4000000000000408"


class Outcome(models.TextChoices):
    """What a charge with a card ends in. A decline's value is the decline code it answers with."""

    APPROVE = "approve", "Approve"
    CARD_DECLINED = "card_declined", "Decline: card declined"
    INSUFFICIENT_FUNDS = "insufficient_funds", "Decline: insufficient funds"
    APPROVE_THEN_STALL = "approve_then_stall", "Approve, then answer too late"


DECLINE_OUTCOMES = frozenset({Outcome.CARD_DECLINED, Outcome.INSUFFICIENT_FUNDS})


@dataclass(frozen=True)
class Script:
    outcome: Outcome = Outcome.APPROVE
    # How many charge attempts answer 503 before the outcome above.
    transient_failures: int = 0


SCRIPTS: dict[str, Script] = {
    APPROVE: Script(),
    APPROVE_MASTERCARD: Script(),
    DECLINE: Script(Outcome.CARD_DECLINED),
    INSUFFICIENT_FUNDS: Script(Outcome.INSUFFICIENT_FUNDS),
    TRANSIENT_ONCE: Script(transient_failures=1),
    TRANSIENT_TWICE: Script(transient_failures=2),
    TRANSIENT_THRICE: Script(transient_failures=3),
    TIMEOUT_AFTER_CHARGE: Script(Outcome.APPROVE_THEN_STALL),
}


def script_for(number: str) -> Script:
    return SCRIPTS.get(number, Script())


def brand_of(number: str) -> str | None:
    """The network of a valid number by its prefix; None for one the provider does not take."""
    if number.startswith("4"):
        return "visa"
    if 51 <= int(number[:2]) <= 55 or 2221 <= int(number[:4]) <= 2720:
        return "mastercard"
    if number.startswith(("34", "37")):
        return "amex"
    if 3528 <= int(number[:4]) <= 3589:
        return "jcb"
    return None
