"""Memory of `manage.py expire_pending --dry-run` over 100,000 pending payments (SQLite).

    .venv/bin/python bench/commands_memory.py [--payments 100000]

Creates the payments in a fresh SQLite file with bulk_create, then runs the command's dry run
(which reads every one of them) under tracemalloc. The ceiling is measured in the same run: the
peak memory of creating the first 1,000 payments. A command that walks the table in batches
stays near it however many payments there are; one that loads them all grows with the table.
Not part of the test suite (too slow); tests/payments/test_expire_pending.py checks the queries
per batch. Exits 1 if the peak is more than twice the ceiling.
"""

import argparse
import os
import secrets
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

CHUNK = 1000


def say(line: str) -> None:
    sys.stdout.write(line + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=100_000)
    count = parser.parse_args().payments

    folder = Path(tempfile.mkdtemp(prefix="commands-memory-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_ENV_FILE="",
        # DEBUG off: with it on, Django keeps every query's text in memory.
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(32),
        DATABASE_URL=f"sqlite:///{folder / 'bench.sqlite3'}",
    )
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()

    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import User
    from gateways.models import Gateway
    from payments.models import Payment, PaymentKind, PaymentMethod, PaymentStatus

    call_command("migrate", verbosity=0)
    user = User.objects.create(email="bench@example.com")

    def create(how_many: int) -> None:
        Payment.objects.bulk_create(
            Payment(
                user=user,
                kind=PaymentKind.DEPOSIT,
                gateway=Gateway.CARD,
                method=PaymentMethod.CARD,
                amount=Decimal("100.00"),
                currency="TWD",
            )
            for _ in range(how_many)
        )

    tracemalloc.start()
    create(CHUNK)
    _, ceiling = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    started = time.monotonic()
    for _ in range((count - CHUNK) // CHUNK):
        create(CHUNK)
    Payment.objects.update(created_at=timezone.now() - timedelta(days=2))
    pending = Payment.objects.filter(status=PaymentStatus.PENDING).count()
    say(f"created {pending} pending payments in {time.monotonic() - started:.1f} s")

    with open(os.devnull, "w") as nowhere:
        # Once on one payment first: importing the command's modules is not the walk's cost.
        call_command("expire_pending", "--dry-run", "--limit", "1", stdout=nowhere)
        tracemalloc.start()
        started = time.monotonic()
        call_command("expire_pending", "--dry-run", stdout=nowhere)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    seconds = time.monotonic() - started

    ratio = peak / ceiling
    say(f"expire_pending --dry-run over {pending} payments: {seconds:.1f} s")
    say(f"ceiling (creating the first {CHUNK}): {ceiling / 1024:.0f} KiB")
    say(f"peak of the dry run:                 {peak / 1024:.0f} KiB")
    say(f"ratio: {ratio:.2f} ({'flat' if ratio <= 2 else 'GROWS WITH THE TABLE'})")
    return 0 if ratio <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
