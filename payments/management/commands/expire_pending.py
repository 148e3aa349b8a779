"""Expire payments left pending: nobody paid, and nobody will."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.db.models import QuerySet
from django.utils import timezone

from core.batches import ids_in_batches, rows_in_batches
from core.progress import Progress
from payments.models import Payment, PaymentStatus
from payments.selectors import payments_expirable
from payments.services import payment_expire


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = (
        "Expire payments pending longer than --older-than minutes (pending -> expired): an ECPay "
        "ATM or store payment only once its payment code's deadline has passed, as the "
        "customer may pay until then. Works in batches of 500, oldest first; a payment that "
        "moved on meanwhile is skipped. Exits 1 if any payment could not be expired."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=_positive,
            default=settings.EXPIRE_PENDING_AFTER_MINUTES,
            metavar="MINUTES",
            help="expire payments pending longer than this (default: %(default)s)",
        )
        parser.add_argument(
            "--limit", type=_positive, help="at most this many payments (default: all)"
        )
        parser.add_argument("--dry-run", action="store_true", help="list them, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        payments = payments_expirable(older_than=timedelta(minutes=options["older_than"]))
        limit: int | None = options["limit"]
        total = payments.count()
        if limit is not None:
            total = min(total, limit)
        # -v 0: the summary only (a cron job's mail), not a line per payment.
        self.each = options["verbosity"] >= 1
        if options["dry_run"]:
            self._list(payments, total=total, limit=limit)
            return

        expired = skipped = failed = 0
        with Progress(total=total, label="expiring") as progress:
            for ids in ids_in_batches(payments, limit=limit):
                for payment_id in ids:
                    try:
                        payment = payment_expire(payment_id=payment_id)
                    except DatabaseError as error:
                        # A lock wait timeout or a lost connection: this payment stays pending
                        # for the next run, the others go on.
                        failed += 1
                        self.stderr.write(f"could not expire payment #{payment_id}: {error}")
                        continue
                    finally:
                        progress.advance()
                    if payment.status == PaymentStatus.EXPIRED:
                        expired += 1
                        self._say(f"expired {payment.public_id}")
                    else:
                        skipped += 1
                        self._say(f"skipped {payment.public_id}: {_why_not(payment)}")
        self.stdout.write(f"expired {expired} payment(s), skipped {skipped}, {failed} failed")
        if failed:
            raise CommandError(f"{failed} payment(s) could not be expired", returncode=1)

    def _list(self, payments: QuerySet[Payment], *, total: int, limit: int | None) -> None:
        listed = 0
        with Progress(total=total, label="listing") as progress:
            for batch in rows_in_batches(payments.only("public_id", "created_at"), limit=limit):
                for payment in batch:
                    self._say(
                        f"would expire {payment.public_id} "
                        f"(pending since {timezone.localtime(payment.created_at):%Y-%m-%d %H:%M})"
                    )
                listed += len(batch)
                progress.advance(len(batch))
        self.stdout.write(f"would expire {listed} payment(s)")

    def _say(self, line: str) -> None:
        if self.each:
            self.stdout.write(line)


def _why_not(payment: Payment) -> str:
    if payment.status != PaymentStatus.PENDING:
        return f"now {payment.status}"
    deadline = timezone.localtime(payment.payment_code_expires_at)
    return f"its payment code is valid until {deadline:%Y-%m-%d %H:%M}"
