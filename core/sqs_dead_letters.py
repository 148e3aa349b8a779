"""The SQS broker's dead-letter queues (seed 002): list them, read what is in them, send it back.

Each Celery queue on SQS has a redrive policy (deploy/sqs-queues.yaml): a message received
MaxReceiveCount times without being acknowledged (a task that kills its worker every time) moves
to the queue's dead-letter queue. This module finds each dead-letter queue from its queue's own
redrive policy (never from a naming convention), reads the Celery task in each message, and
redrives messages to the queue they came from, where a worker runs them again. The tasks are
idempotent (a payment's steps pick up from where it stands), so a message redriven twice, or
one whose payment moved on meanwhile, does no harm.

Nothing here knows a payment: a message is a Celery task, its name and arguments.
"""

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# How long a message read for inspection or redrive stays hidden from other readers: longer
# than sending it on takes, short enough that an interrupted redrive's messages come back soon.
_HOLD_SECONDS = 60


class NoDeadLetterQueue(Exception):
    """The queue has no redrive policy: nothing is dead-lettered from it."""


@dataclass(frozen=True)
class DeadLetterQueue:
    concern: str
    # The queue its messages came from, and where a redrive sends them.
    source_url: str
    url: str
    waiting: int


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receipt_handle: str
    body: str
    attributes: dict[str, Any]
    # What Celery's envelope says: the task's name, id and arguments ("?" when unreadable).
    task: str
    task_id: str
    args: str
    received: int
    sent_at: datetime | None


def dead_letter_queue(sqs: Any, *, concern: str, source_url: str) -> DeadLetterQueue:
    """The dead-letter queue of the queue at `source_url`, from its redrive policy."""
    attributes = sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["RedrivePolicy"])
    policy = json.loads(attributes.get("Attributes", {}).get("RedrivePolicy", "{}"))
    arn = policy.get("deadLetterTargetArn", "")
    if not arn:
        raise NoDeadLetterQueue(f"{concern} ({source_url}) has no redrive policy.")
    url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
    counted = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    waiting = int(counted["Attributes"]["ApproximateNumberOfMessages"])
    return DeadLetterQueue(concern=concern, source_url=source_url, url=url, waiting=waiting)


def dead_letters_peek(sqs: Any, queue: DeadLetterQueue, *, limit: int) -> list[DeadLetter]:
    """Up to `limit` of the queue's messages, left in it: each is made visible again at once."""
    seen: dict[str, DeadLetter] = {}
    for letter in _read(sqs, queue, limit=limit):
        seen.setdefault(letter.message_id, letter)
        sqs.change_message_visibility(
            QueueUrl=queue.url, ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0
        )
    return list(seen.values())


def dead_letters_redrive(
    sqs: Any,
    queue: DeadLetterQueue,
    *,
    limit: int,
    on_moved: Callable[[DeadLetter], None] = lambda letter: None,
) -> int:
    """Send up to `limit` messages back to the queue they came from, each removed from the
    dead-letter queue only once it is sent (an interruption leaves it to redrive again).
    Returns how many moved."""
    moved = 0
    for letter in _read(sqs, queue, limit=limit):
        sent: dict[str, Any] = {"QueueUrl": queue.source_url, "MessageBody": letter.body}
        if letter.attributes:
            sent["MessageAttributes"] = letter.attributes
        sqs.send_message(**sent)
        sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=letter.receipt_handle)
        moved += 1
        on_moved(letter)
    return moved


def _read(sqs: Any, queue: DeadLetterQueue, *, limit: int) -> list[DeadLetter]:
    """Receive up to `limit` messages, holding each for _HOLD_SECONDS; stops when a receive
    brings nothing new."""
    letters: dict[str, DeadLetter] = {}
    while len(letters) < limit:
        answer = sqs.receive_message(
            QueueUrl=queue.url,
            MaxNumberOfMessages=min(10, limit - len(letters)),
            VisibilityTimeout=_HOLD_SECONDS,
            WaitTimeSeconds=0,
            AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            MessageAttributeNames=["All"],
        )
        new = [_letter(message) for message in answer.get("Messages", [])]
        new = [letter for letter in new if letter.message_id not in letters]
        if not new:
            break
        letters.update((letter.message_id, letter) for letter in new)
    return list(letters.values())[:limit]


def _letter(message: dict[str, Any]) -> DeadLetter:
    headers = _celery_headers(message["Body"])
    attributes = message.get("Attributes", {})
    sent = attributes.get("SentTimestamp")
    return DeadLetter(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message["Body"],
        attributes=message.get("MessageAttributes", {}),
        task=str(headers.get("task", "?")),
        task_id=str(headers.get("id", "?")),
        args=str(headers.get("argsrepr", "?")),
        received=int(attributes.get("ApproximateReceiveCount", 0)),
        sent_at=datetime.fromtimestamp(int(sent) / 1000, tz=UTC) if sent else None,
    )


def _celery_headers(body: str) -> dict[str, Any]:
    """The headers of the Celery message in an SQS body: kombu's envelope as JSON, base64-encoded
    (or plain). {} for a body that is not one."""
    for text in (_base64(body), body):
        if text is None:
            continue
        try:
            envelope = json.loads(text)
        except ValueError:
            continue
        headers = envelope.get("headers") if isinstance(envelope, dict) else None
        if isinstance(headers, dict):
            return headers
    return {}


def _base64(body: str) -> str | None:
    try:
        return base64.b64decode(body, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
