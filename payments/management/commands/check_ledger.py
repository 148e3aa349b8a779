"""Check that every user's balance equals the sum of their ledger entries."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from payments.selectors import ledger_mismatches


class Command(BaseCommand):
    help = (
        "For every user, compare the balance with the sum of the ledger entries; print each "
        "mismatch and exit 1 if there is any. Changes nothing."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        mismatches = ledger_mismatches()
        for row in mismatches:
            self.stdout.write(
                f"{row.email}: balance {row.balance} {row.currency}, ledger {row.ledger_total}, "
                f"difference {row.balance - row.ledger_total}"
            )
        if mismatches:
            raise CommandError(
                f"{len(mismatches)} balance(s) do not match the ledger", returncode=1
            )
        self.stdout.write(self.style.SUCCESS("Every balance matches its ledger."))
