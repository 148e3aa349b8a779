"""The development mailbox: every email the service sends, kept as a file under `var/mail/`.

In development nothing is delivered. Django's console backend printed every message, text and
HTML, into the worker's console among its logs; this one writes each message to a `.eml` file
(any mail program opens it), logs one line saying who it was for and where it is, and the
development-only page `/dev/mail/` (`notifications/views.py`) lists and shows them. Production
refuses it (`core.checks`), as every backend that delivers nothing.
"""

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage as ParsedMessage
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

logger = logging.getLogger(__name__)

# What the file names look like: when it was written (UTC, to the microsecond) and a counter, so
# they sort oldest first and two messages in one microsecond still get a file each. The letters
# between the digits matter: a long run of digits and dashes is redacted from the logs as a card
# number could be (core.logging), and the log line names the file.
_NAME = re.compile(r"\A\d{8}T\d{6}\.\d{6}Z-\d+\.eml\Z")
# The page shows the newest ones; a long-running machine may hold thousands.
PAGE_SIZE = 100


def mailbox_folder() -> Path:
    return Path(settings.EMAIL_FILE_PATH)


class MailboxBackend(BaseEmailBackend):
    """Writes each message to `EMAIL_FILE_PATH/<when>-<n>.eml` and logs one line about it."""

    _counter = 0
    _counter_lock = threading.Lock()

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        folder = mailbox_folder()
        folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            path = folder / self._file_name()
            # Written aside, then renamed: the page never reads half a message.
            partial = path.with_suffix(".partial")
            partial.write_bytes(message.message().as_bytes(linesep="\n"))
            partial.rename(path)
            logger.info(
                'Mail to %s: "%s" (read it at %s/dev/mail/%s)',
                ", ".join(message.recipients()),
                message.subject,
                settings.SITE_URL.rstrip("/"),
                path.name,
            )
            sent += 1
        return sent

    def _file_name(self) -> str:
        with MailboxBackend._counter_lock:
            MailboxBackend._counter += 1
            counter = MailboxBackend._counter
        return f"{datetime.now(tz=UTC).strftime('%Y%m%dT%H%M%S.%fZ')}-{counter}.eml"


@dataclass(frozen=True)
class MailboxMessage:
    name: str
    sent_at: datetime
    sender: str
    to: str
    subject: str
    text: str
    html: str


def mailbox_messages(*, limit: int = PAGE_SIZE) -> list[MailboxMessage]:
    """The newest `limit` messages, newest first."""
    folder = mailbox_folder()
    if not folder.is_dir():
        return []
    names = sorted((path.name for path in folder.iterdir() if _NAME.match(path.name)), reverse=True)
    return [message for name in names[:limit] if (message := mailbox_message(name)) is not None]


def mailbox_message(name: str) -> MailboxMessage | None:
    """The message in file `name`, or None for a name that is not one of the mailbox's files."""
    if not _NAME.match(name):
        return None
    path = mailbox_folder() / name
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    parsed: Any = message_from_bytes(raw, policy=policy.default)
    return MailboxMessage(
        name=name,
        sent_at=datetime.fromtimestamp(path.stat().st_mtime, tz=UTC),
        sender=str(parsed["From"] or ""),
        to=str(parsed["To"] or ""),
        subject=str(parsed["Subject"] or ""),
        text=_body(parsed, "plain"),
        html=_body(parsed, "html"),
    )


def _body(parsed: ParsedMessage, subtype: str) -> str:
    part = parsed.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return ""
    content = part.get_content()
    return content if isinstance(content, str) else ""
