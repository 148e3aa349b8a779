"""The SQS broker's dead-letter queues: list them, inspect their messages, redrive them."""

from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.progress import Progress
from core.sqs_dead_letters import (
    DeadLetter,
    DeadLetterQueue,
    NoDeadLetterQueue,
    dead_letter_queue,
    dead_letters_peek,
    dead_letters_redrive,
)


class Command(BaseCommand):
    help = (
        "The SQS broker's dead-letter queues (deploy/sqs-queues.yaml): `list` how many messages "
        "each holds; `inspect` them (task, arguments, receives, when sent; they stay); "
        "`redrive` them to the queue they came from, where a worker runs them again (the "
        "tasks are idempotent). --queue picks one concern, --limit caps the messages, "
        "--dry-run says what a redrive would move and moves nothing. SQS broker only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["list", "inspect", "redrive"])
        names = [queue.name for queue in settings.CELERY_TASK_QUEUES]
        parser.add_argument("--queue", choices=names, help="only this queue's dead letters")
        parser.add_argument("--limit", type=int, default=100, help="at most this many messages")
        parser.add_argument(
            "--dry-run", action="store_true", help="redrive: say what would move, move nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.CELERY_BROKER_URL.startswith("sqs"):
            raise CommandError(
                "The broker is not SQS (CELERY_BROKER_URL): its dead letters are payments "
                "(manage.py reprocess_payments), not queue messages."
            )
        if options["limit"] < 1:
            raise CommandError("--limit must be at least 1.")
        sqs = boto3.client("sqs", region_name=settings.AWS_REGION)
        names = (
            [options["queue"]]
            if options["queue"]
            else [queue.name for queue in settings.CELERY_TASK_QUEUES]
        )
        try:
            queues = [
                dead_letter_queue(
                    sqs, concern=name, source_url=settings.CELERY_SQS_QUEUE_URL_PREFIX + name
                )
                for name in names
            ]
            for queue in queues:
                getattr(self, f"_{options['action']}")(sqs, queue, options)
        except NoDeadLetterQueue as error:
            raise CommandError(f"{error} Create the queues with deploy/sqs-queues.yaml.") from None
        except (BotoCoreError, ClientError) as error:
            raise CommandError(f"SQS: {error}") from None

    def _list(self, sqs: Any, queue: DeadLetterQueue, options: dict[str, Any]) -> None:
        self.stdout.write(f"{queue.concern}: {queue.waiting} dead letters ({queue.url})")

    def _inspect(self, sqs: Any, queue: DeadLetterQueue, options: dict[str, Any]) -> None:
        letters = dead_letters_peek(sqs, queue, limit=options["limit"])
        self.stdout.write(f"{queue.concern}: {queue.waiting} dead letters")
        for letter in letters:
            self.stdout.write("  " + _described(letter))

    def _redrive(self, sqs: Any, queue: DeadLetterQueue, options: dict[str, Any]) -> None:
        limit = min(options["limit"], queue.waiting) if queue.waiting else 0
        if options["dry_run"]:
            letters = dead_letters_peek(sqs, queue, limit=options["limit"]) if limit else []
            for letter in letters:
                self.stdout.write(f"  would redrive {_described(letter)}")
            self.stdout.write(
                f"{queue.concern}: would redrive {len(letters)} to {queue.source_url}"
            )
            return
        with Progress(total=limit, label=f"redriving {queue.concern}") as progress:
            moved = dead_letters_redrive(
                sqs,
                queue,
                limit=options["limit"],
                on_moved=lambda letter: progress.advance(),
            )
        self.stdout.write(f"{queue.concern}: redrove {moved} to {queue.source_url}")


def _described(letter: DeadLetter) -> str:
    sent = letter.sent_at.isoformat(timespec="seconds") if letter.sent_at else "?"
    return (
        f"{letter.task}{letter.args} id {letter.task_id}: received {letter.received} times, "
        f"sent {sent}"
    )
