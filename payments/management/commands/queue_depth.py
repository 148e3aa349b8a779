"""How many messages wait on each of the broker's queues (seed 002's queue inspection)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from payments.queue import queues_waiting


class Command(BaseCommand):
    help = (
        "Print how many messages wait on each queue the workers consume (pipeline, "
        "notifications, maintenance), or on --queue: Redis' list length, SQS's approximate "
        "number of messages visible. Messages a worker holds are not counted. Exits 1 if the "
        "broker cannot be reached or a queue does not exist."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        names = [queue.name for queue in settings.CELERY_TASK_QUEUES]
        parser.add_argument("--queue", choices=names, help="only this queue")

    def handle(self, *args: Any, **options: Any) -> None:
        waiting = queues_waiting([options["queue"]] if options["queue"] else None)
        if waiting is None:
            raise CommandError(
                "The broker could not be reached, or a queue does not exist (the warning above "
                "says which)."
            )
        for name, count in waiting.items():
            self.stdout.write(f"{name}: {count} waiting")
