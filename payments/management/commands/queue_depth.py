"""How many messages wait on each of the broker's queues (seed 002's queue inspection)."""

from typing import Any

from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from kombu.exceptions import OperationalError as BrokerError


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
        names = (
            [options["queue"]]
            if options["queue"]
            else [queue.name for queue in settings.CELERY_TASK_QUEUES]
        )
        try:
            with current_app.connection_for_read() as connection:
                # Every kombu transport's channel declares queues; the stub's type does not say.
                channel: Any = connection.default_channel
                for name in names:
                    # Not passive: Redis keeps no empty queue, so a passive declare would call
                    # an empty queue missing. Nothing is created either way: Redis makes a list
                    # when a message arrives, and SQS' queues are predefined (an unknown one
                    # is an error).
                    _, waiting, _ = channel.queue_declare(queue=name)
                    self.stdout.write(f"{name}: {waiting} waiting")
        except BrokerError as error:
            raise CommandError(f"The broker could not be reached: {error}") from None
        except Exception as error:  # a transport's own "no such queue"
            raise CommandError(f"{type(error).__name__}: {error}") from None
