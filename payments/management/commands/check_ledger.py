"""Check that every user's balance equals the sum of their ledger entries."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from core.batches import ids_in_batches
from core.progress import Progress
from payments.selectors import ledger_mismatches


class Command(BaseCommand):
    help = (
        "For every user, compare the balance with the sum of the ledger entries; print each "
        "mismatch and exit 1 if there is any. Reads the users in batches of 500 (one query a "
        "batch), so memory stays flat however many there are. Changes nothing."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        users = User.objects.all()
        checked = mismatched = 0
        with Progress(total=users.count(), label="checking balances") as progress:
            for user_ids in ids_in_batches(users):
                for row in ledger_mismatches(user_ids=user_ids):
                    mismatched += 1
                    self.stdout.write(
                        f"{row.email}: balance {row.balance} {row.currency}, ledger "
                        f"{row.ledger_total}, difference {row.balance - row.ledger_total}"
                    )
                checked += len(user_ids)
                progress.advance(len(user_ids))
        if mismatched:
            raise CommandError(
                f"{mismatched} of {checked} balance(s) do not match the ledger", returncode=1
            )
        self.stdout.write(
            self.style.SUCCESS(f"Every balance matches its ledger ({checked} checked).")
        )
