"""Time and peak memory of the operators' commands over 100,000 payments (SQLite).

    .venv/bin/python bench/commands_memory.py [--payments 100000] [--json]

Runs `reprocess_payments --dry-run` (over dead letters), `reconcile_ecpay --dry-run` and
`expire_pending --dry-run` (over old pending ECPay payments) and `check_ledger` (over users),
each under tracemalloc, first with 1,000 of each (the ceiling) and then with `--payments` of
each, in a fresh SQLite file filled with bulk_create. A command that walks the table in batches
peaks near its ceiling however many rows there are; one that loads them all grows with the
table. ECPay's QueryTradeInfo is answered in-process ("not paid yet"): the outside world is not
what is measured. `make bench` runs this; exits 1 if a peak is more than twice its ceiling.
"""

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
import tracemalloc
from dataclasses import asdict, dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

CHUNK = 1000


def say(line: str) -> None:
    sys.stdout.write(line + "\n")


@dataclass(frozen=True)
class Result:
    command: str
    ceiling: int
    ceiling_seconds: float
    peak: int
    seconds: float


# Each command with the arguments that make it read every row there is.
COMMANDS = {
    "reprocess_payments --dry-run": ["reprocess_payments", "--dry-run", "--limit", "{count}"],
    "reconcile_ecpay --dry-run": ["reconcile_ecpay", "--dry-run", "--limit", "{count}"],
    "expire_pending --dry-run": ["expire_pending", "--dry-run", "--limit", "{count}"],
    "check_ledger": ["check_ledger"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--json", action="store_true", help="end with the results as JSON")
    options = parser.parse_args()
    count = options.payments

    folder = Path(tempfile.mkdtemp(prefix="commands-memory-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_ENV_FILE="",
        # DEBUG off: with it on, Django keeps every query's text in memory.
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(32),
        DATABASE_URL=f"sqlite:///{folder / 'bench.sqlite3'}",
        DJANGO_LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    with mock.patch("payments.ecpay.reconciliation.query_trade", _not_paid_yet):
        grow(CHUNK)
        ceilings = {name: measure(args, CHUNK) for name, args in COMMANDS.items()}
        started = time.monotonic()
        for _ in range((count - CHUNK) // CHUNK):
            grow(CHUNK)
        say(f"created {count} of each in {time.monotonic() - started:.1f} s")
        results = []
        for name, args in COMMANDS.items():
            peak, seconds = measure(args, count)
            ceiling, ceiling_seconds = ceilings[name]
            results.append(Result(name, ceiling, ceiling_seconds, peak, seconds))

    worst = 0.0
    for result in results:
        ratio = result.peak / result.ceiling
        worst = max(worst, ratio)
        say(
            f"{result.command} over {count}: {result.seconds:.1f} s, peak {result.peak // 1024} "
            f"KiB; over {CHUNK}: {result.ceiling_seconds:.2f} s, peak "
            f"{result.ceiling // 1024} KiB; ratio {ratio:.2f} "
            f"({'flat' if ratio <= 2 else 'GROWS WITH THE TABLE'})"
        )
    if options.json:
        say(json.dumps([asdict(result) for result in results]))
    return 0 if worst <= 2 else 1


def grow(how_many: int) -> None:
    """Add `how_many` each of dead letters, old pending ECPay payments and users."""
    from django.utils import timezone

    from accounts.models import User
    from gateways.models import Gateway
    from payments.models import Payment, PaymentKind, PaymentMethod, PaymentStatus

    user = User.objects.get_or_create(email="bench@example.com")[0]
    two_days_ago = timezone.now() - timedelta(days=2)
    serial = Payment.objects.count()
    common: dict[str, Any] = {
        "user": user,
        "kind": PaymentKind.DEPOSIT,
        "method": PaymentMethod.CARD,
        "amount": Decimal("500.00"),
        "currency": "TWD",
    }
    Payment.objects.bulk_create(
        Payment(gateway=Gateway.CARD, status=PaymentStatus.FAILED, needs_review=True, **common)
        for _ in range(how_many)
    )
    Payment.objects.bulk_create(
        Payment(gateway=Gateway.ECPAY, merchant_trade_no=f"BENCH{serial + i:012d}", **common)
        for i in range(how_many)
    )
    Payment.objects.filter(created_at__gt=two_days_ago).update(created_at=two_days_ago)
    users = User.objects.count()
    User.objects.bulk_create(User(email=f"bench-{users + i}@example.com") for i in range(how_many))


def measure(args: list[str], count: int) -> tuple[int, float]:
    """The command's peak traced memory and its time, reading `count` rows."""
    from django.core.management import call_command

    argv = [arg.format(count=count) for arg in args]
    with open(os.devnull, "w") as nowhere:
        # Once on one row first: importing the command's modules is not the walk's cost.
        call_command(*argv[:1], *(a.format(count=1) for a in args[1:]), stdout=nowhere)
        tracemalloc.start()
        started = time.monotonic()
        call_command(*argv, stdout=nowhere, stderr=nowhere)
        seconds = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, seconds


def _not_paid_yet(merchant_trade_no: str, config: object) -> Any:
    from gateways.ecpay import TradeStatus

    return TradeStatus(
        merchant_trade_no=merchant_trade_no,
        paid=False,
        trade_no="",
        trade_amt=Decimal("500"),
        payment_type="",
        payment_date="",
        fields={"TradeStatus": "0"},
    )


if __name__ == "__main__":
    sys.exit(main())
