"""The two ways a notification reaches someone: an email to the customer, a message on SNS.

Every channel has the same shape, `send(*, payment, event, recipient)`, and raises on failure;
`notifications.services` records the outcome. Both build their content from `message_context`,
the one place that decides what a message may say about a payment: never card data beyond the
brand and the last four digits.
"""

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Protocol

import boto3
from botocore.config import Config
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from notifications.models import NotificationChannel

# Fail fast and let the retry sweep try again later, rather than hold a worker for minutes on
# botocore's defaults (60 s timeouts, several retries).
_SNS_CLIENT_CONFIG = Config(
    connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 2}
)


class NotifiedOrder(Protocol):
    @property
    def number(self) -> str: ...


class NotifiedCustomer(Protocol):
    @property
    def email(self) -> str: ...


class NotifiedPayment(Protocol):
    """What a message may read of a payment. `payments.models.Payment` is one: notifications
    sit below payments (docs/architecture.md), so they name what they need instead of importing
    it, and mypy checks at each call that a payment has it."""

    @property
    def pk(self) -> int: ...
    @property
    def public_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def currency(self) -> str: ...
    @property
    def failure_reason(self) -> str: ...
    @property
    def card_brand(self) -> str: ...
    @property
    def card_last4(self) -> str: ...
    @property
    def order(self) -> NotifiedOrder | None: ...
    @property
    def user(self) -> NotifiedCustomer: ...


class ChannelSend(Protocol):
    def __call__(
        self, *, payment: NotifiedPayment, event: str, details: Mapping[str, str], recipient: str
    ) -> None: ...


# A card provider's decline codes, as a customer reads them.
_DECLINES = {
    "card_declined": "your card was declined",
    "insufficient_funds": "the card has insufficient funds",
    "expired_card": "the card has expired",
    "incorrect_cvc": "the card's security code was not right",
}


def failure_in_words(reason: str) -> str:
    """Why a payment failed, for its customer: a decline in plain words; "" for anything else
    (a crash, a gateway's error), which says nothing a customer can act on."""
    if not reason.startswith("declined: "):
        return ""
    return _DECLINES.get(reason.removeprefix("declined: "), "your card was declined")


def message_context(
    *, payment: NotifiedPayment, event: str, details: Mapping[str, str]
) -> dict[str, str]:
    """What a message about `event` may say about the payment, and the `details` its
    notification keeps of the event (a refund's amounts). Money leaves as a string."""
    part = refund_part(payment=payment, details=details)
    return {
        "event": event,
        "payment_id": payment.public_id,
        "status": payment.status,
        "amount": str(payment.amount),
        "currency": payment.currency,
        "order_number": payment.order.number if payment.order else "",
        # For systems (SNS): the reason as recorded. For people (emails): in words a customer
        # understands, or nothing where the reason is ours to fix, not theirs.
        "failure_reason": payment.failure_reason if event == "failed" else "",
        "failure_in_words": failure_in_words(payment.failure_reason) if event == "failed" else "",
        "card_brand": payment.card_brand,
        "card_last4": payment.card_last4,
        "refund_amount": details.get("refund_amount", ""),
        "refunded_amount": details.get("refunded_amount", ""),
        "refund_part": part,
        "status_in_words": status_in_words(payment=payment, refund_part=part),
    }


def refund_part(*, payment: NotifiedPayment, details: Mapping[str, str]) -> str:
    """Which part of the payment a refund gave back, as it stood then (the payment's status may
    have moved on since): `whole` at once, a `part` with more left, or the `last` part; "" for
    a message about no refund."""
    if "refund_amount" not in details:
        return ""
    if Decimal(details["refunded_amount"]) < payment.amount:
        return "part"
    return "whole" if Decimal(details["refund_amount"]) == payment.amount else "last"


def status_in_words(*, payment: NotifiedPayment, refund_part: str) -> str:
    """The status an email shows: a refund's message says where that refund left the payment
    (a retry sent after a later refund must not contradict the amounts it states); any other
    message, the payment's status."""
    if refund_part == "part":
        return "partly refunded"
    if refund_part:
        return "refunded"
    return payment.status


def _subject(*, event: str, context: dict[str, str]) -> str:
    # A header must be one line; the template's closing newline would make it two.
    return render_to_string(f"notifications/payment_{event}_subject.txt", context).strip()


def email_send(
    *, payment: NotifiedPayment, event: str, details: Mapping[str, str], recipient: str
) -> None:
    """Email the customer, text and HTML, through `settings.EMAIL_BACKEND` (SES in production)."""
    context = message_context(payment=payment, event=event, details=details)
    message = EmailMultiAlternatives(
        subject=_subject(event=event, context=context),
        body=render_to_string(f"notifications/payment_{event}.txt", context),
        to=[recipient],
    )
    message.attach_alternative(
        render_to_string(f"notifications/payment_{event}.html", context), "text/html"
    )
    message.send()


def sns_publish(
    *, payment: NotifiedPayment, event: str, details: Mapping[str, str], recipient: str
) -> None:
    """Publish the event as JSON to the topic `recipient` (an ARN).

    boto3 finds credentials and, in tests, the endpoint (`AWS_ENDPOINT_URL_SNS`) in the
    environment. A session per call: boto3's default session is not safe to share across threads.
    """
    context = message_context(payment=payment, event=event, details=details)
    body = {key: context[key] for key in ("event", "payment_id", "status", "amount", "currency")}
    for optional in ("order_number", "failure_reason", "refund_amount", "refunded_amount"):
        if context[optional]:
            body[optional] = context[optional]
    client = boto3.session.Session().client(
        "sns", region_name=settings.AWS_REGION, config=_SNS_CLIENT_CONFIG
    )
    client.publish(
        TopicArn=recipient,
        Subject=_subject(event=event, context=context),
        Message=json.dumps(body),
    )


CHANNELS: dict[str, ChannelSend] = {
    NotificationChannel.EMAIL: email_send,
    NotificationChannel.SNS: sns_publish,
}
