"""Run the pipeline again for dead letters (and payments stuck on the way)."""

from datetime import datetime, time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.batches import rows_in_batches
from core.exceptions import DomainError
from core.progress import Progress
from payments.models import Payment, PaymentStatus
from payments.services import payment_reprocess
from payments.tasks import payment_resume, payment_validate

# What "run again" means for each status: dead letters go back to processing first; a
# payment stuck pending or processing only needs its step queued again (steps are idempotent).
REPROCESSABLE_STATUSES = (PaymentStatus.FAILED, PaymentStatus.PROCESSING, PaymentStatus.PENDING)


class Command(BaseCommand):
    help = (
        "Run the payment pipeline again, safely: it never charges a payment twice. By default "
        "takes every dead letter (failed and needing review); name payments by public id, or "
        "choose by --status and --since. Works in batches, oldest first. Exits 1 if any "
        "payment could not be taken up."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("payment_ids", nargs="*", help="public ids (pay_...) to reprocess")
        parser.add_argument(
            "--status",
            choices=REPROCESSABLE_STATUSES,
            default=PaymentStatus.FAILED,
            help="which payments to take when no ids are given (default: failed dead letters)",
        )
        parser.add_argument("--since", help="only payments created on or after this date / time")
        parser.add_argument(
            "--limit", type=int, default=100, help="at most this many (default 100)"
        )
        parser.add_argument("--dry-run", action="store_true", help="list them, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        payments, limit = self._select(options)
        total = payments.count()
        if limit is not None:
            total = min(total, limit)
        dry_run = options["dry_run"]
        taken = refused = 0
        with Progress(total=total, label="reprocessing") as progress:
            for batch in rows_in_batches(payments, limit=limit):
                for payment in batch:
                    progress.advance()
                    if dry_run:
                        taken += 1
                        self.stdout.write(f"would reprocess {payment.public_id} ({payment.status})")
                        continue
                    try:
                        self._reprocess(payment)
                    except DomainError as error:
                        refused += 1
                        self.stderr.write(f"refused {payment.public_id}: {error.message}")
                        continue
                    taken += 1
                    self.stdout.write(f"reprocessing {payment.public_id} (was {payment.status})")
        verb = "would reprocess" if dry_run else "reprocessing"
        self.stdout.write(f"{verb} {taken} payment(s), {refused} refused")
        if refused:
            raise CommandError(f"{refused} payment(s) could not be reprocessed", returncode=1)

    def _select(self, options: dict[str, Any]) -> tuple[QuerySet[Payment], int | None]:
        """The payments to take, and how many at most (None: all the ids named)."""
        if options["payment_ids"]:
            named = Payment.objects.filter(public_id__in=options["payment_ids"])
            missing = set(options["payment_ids"]) - set(named.values_list("public_id", flat=True))
            if missing:
                raise CommandError(f"no such payment: {', '.join(sorted(missing))}")
            return named, None
        payments = Payment.objects.filter(status=options["status"])
        if options["status"] == PaymentStatus.FAILED:
            payments = payments.filter(needs_review=True)
        if options["since"]:
            payments = payments.filter(created_at__gte=_moment(options["since"]))
        return payments, options["limit"]

    def _reprocess(self, payment: Payment) -> None:
        if payment.status == PaymentStatus.PENDING:
            payment_validate.delay(payment.pk)
            return
        if payment.status != PaymentStatus.PROCESSING:
            payment_reprocess(payment_id=payment.pk)
        # From where it stands, by its gateway: a card is charged (once), a balance debited, a
        # wallet's report settled, an ECPay payment ECPay reported paid completed.
        payment_resume.delay(payment.pk)


def _moment(text: str) -> datetime:
    moment = parse_datetime(text)
    if moment is None:
        day = parse_date(text)
        if day is None:
            raise CommandError(f"--since: not a date or date-time: {text}")
        moment = datetime.combine(day, time.min)
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)
