"""Ask ECPay (QueryTradeInfo) about payments whose result we should know by now."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.progress import Progress
from payments.ecpay.reconciliation import ecpay_payments_to_check, reconcile_ecpay


class Command(BaseCommand):
    help = (
        "Recover lost ECPay notifications: query QueryTradeInfo for pending card payments older "
        "than --card-age-minutes, ATM / store payments past their deadline, and payments given up "
        "on lately; apply what ECPay says through the notification code path, and record every "
        "discrepancy for staff. Reads the payments in batches, oldest first. Stops for 30 "
        "minutes when ECPay answers 403. Exits 1 on errors."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--card-age-minutes",
            type=int,
            default=settings.ECPAY_RECONCILE_CARD_AFTER_MINUTES,
            help="ask about card payments pending longer than this (default: %(default)s)",
        )
        parser.add_argument("--limit", type=int, default=100, help="at most this many payments")
        parser.add_argument(
            "--dry-run", action="store_true", help="ask ECPay, change and record nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        card_age = timedelta(minutes=options["card_age_minutes"])
        total = min(options["limit"], ecpay_payments_to_check(card_age=card_age).count())
        with Progress(total=total, label="asking ECPay") as progress:
            report = reconcile_ecpay(
                card_age=card_age,
                limit=options["limit"],
                dry_run=options["dry_run"],
                on_asked=progress.advance,
            )
        if report.backed_off:
            self.stdout.write("ECPay asked us to wait (HTTP 403): querying again in 30 minutes.")
        for public_id in report.recovered:
            self.stdout.write(f"recovered {public_id}: paid at ECPay, notification missing")
        for line in report.discrepancies:
            self.stdout.write(f"discrepancy {line}")
        for line in report.errors:
            self.stderr.write(f"could not ask about {line}")
        self.stdout.write(
            f"checked {report.checked}, recovered {len(report.recovered)}, "
            f"{len(report.discrepancies)} discrepancies, {len(report.errors)} errors"
        )
        if report.errors:
            raise CommandError(
                f"{len(report.errors)} payment(s) could not be checked", returncode=1
            )
