"""`make bench`: the product's endpoints, pipeline and commands beside ceilings measured in the
same run, on the real stack on loopback (bin/bench starts MariaDB and Redis, then runs this).

    .venv/bin/python -m bench.run [--quick] [--payments 1000000] [--seconds 10]
                                  [--only create,notification,pipeline,scale,commands,tracing]

Every number is a ratio to a ceiling measured minutes apart on the same machine, so a test suite
running beside it slows both alike. Prints one table; exits 0 whether targets pass or not (a
benchmark reports, the query-count tests enforce).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.cpu import cpu_spent, describe
from bench.stack import (
    BENCH_DIR,
    LOG_DIR,
    WORKER_CONCURRENCY,
    Load,
    bench_environment,
    card_simulator,
    celery_worker,
    web_server,
    wrk,
)
from tests.processes import PYTHON

if TYPE_CHECKING:
    # Imported where used at run time: it needs Django set up first.
    from bench.data import Users


@dataclass(frozen=True)
class Row:
    name: str
    measured: str
    ceiling: str
    ratio: float | None
    target: str
    passed: bool | None

    def cells(self) -> list[str]:
        ratio = "" if self.ratio is None else f"{self.ratio:.2f}×"
        verdict = {True: "pass", False: "MISS", None: ""}[self.passed]
        return [self.name, self.measured, self.ceiling, ratio, self.target, verdict]


@dataclass(frozen=True)
class Sizes:
    payments: int
    seconds: int
    notifications: int
    pipeline: int
    command_payments: int


# What `--only` can pick; all of them by default.
SECTIONS = ("create", "notification", "pipeline", "scale", "commands", "tracing")
# A payment through the worker may cost at most this many times the CPU of its four steps
# called alone: what the task orchestration adds is ours to keep small.
PIPELINE_ORCHESTRATION_TARGET = 1.1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short runs (~3 min)")
    parser.add_argument("--payments", type=int, help="payments for the scale test (1,000,000)")
    parser.add_argument("--seconds", type=int, help="seconds per wrk run (10)")
    parser.add_argument(
        "--only",
        type=parse_sections,
        default=SECTIONS,
        help=f"comma-separated sections to run, of {','.join(SECTIONS)} (all)",
    )
    args = parser.parse_args()
    quick = Sizes(20_000, 3, 3_000, 200, 10_000)
    full = Sizes(1_000_000, 10, 8_000, 1_000, 100_000)
    base = quick if args.quick else full
    sizes = Sizes(
        payments=args.payments or base.payments,
        seconds=args.seconds or base.seconds,
        notifications=base.notifications,
        pipeline=base.pipeline,
        command_payments=base.command_payments,
    )
    started = time.monotonic()
    rows = run(sizes, args.only)
    say("")
    say(table(rows))
    say(f"\n{time.monotonic() - started:.0f} s in all; logs in {LOG_DIR}")
    return 0


def parse_sections(text: str) -> tuple[str, ...]:
    chosen = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = set(chosen) - set(SECTIONS)
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"sections are {', '.join(SECTIONS)}")
    return chosen


def run(sizes: Sizes, sections: tuple[str, ...] = SECTIONS) -> list[Row]:
    with card_simulator() as card_url:
        env = bench_environment(card_provider_url=card_url)
        os.environ.update(env)
        import django

        django.setup()
        from bench import data

        _reset(env)
        users = data.users_create()
        data.backdrop_load(1000 - data.CUSTOMER_PAYMENTS, customer=users.customer)
        data.backdrop_load(data.CUSTOMER_PAYMENTS, customer=users.customer)
        rows: list[Row] = []
        with web_server(env) as base:
            say(f"web server at {base}, card simulator at {card_url}")
            if "scale" in sections:
                small = _reads(base, users, seconds=min(sizes.seconds, 5))
            if "create" in sections:
                rows += _creates(base, users, seconds=sizes.seconds)
            if "notification" in sections:
                rows += _notifications(base, users, sizes)
                rows += _notifications_with_worker(env, base, users, sizes)
            if "tracing" in sections:
                rows += _tracing(env, base, users, seconds=min(sizes.seconds, 5))
            from bench.queries import count_queries

            say("counting queries")
            queries = count_queries(users)
            if "pipeline" in sections:
                rows += _pipeline(env, users, sizes.pipeline)
            if "scale" in sections:
                say(f"loading payments up to {sizes.payments:,}")
                loading = time.monotonic()
                data.backdrop_load(sizes.payments - data.payments_count(), customer=users.customer)
                loaded = time.monotonic() - loading
                say(f"  {data.payments_count():,} payments, loaded in {loaded:.0f} s")
                large = _reads(base, users, seconds=min(sizes.seconds, 5))
        if "scale" in sections:
            rows += _scale_rows(small, large, sizes.payments)
        for name, (statements, control) in queries.items():
            measured = f"{statements} (+{control} transaction control)"
            rows.append(Row(f"queries: {name}", measured, "", None, "", None))
        if "commands" in sections:
            rows += _commands(sizes.command_payments)
        return rows


def _reset(env: dict[str, str]) -> None:
    import redis
    from django.core.management import call_command

    say("emptying payments_bench and Redis database 14")
    call_command("flush", interactive=False, verbosity=0)
    redis.Redis.from_url(env["CELERY_BROKER_URL"]).flushdb()


def _creates(base: str, users: "Users", *, seconds: int) -> list[Row]:
    from bench.queries import CREATE_BODY

    auth = {"Authorization": f"Token {users.customer_token}"}
    ecpay = json.dumps({**CREATE_BODY, "method": "card"})
    card_number = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    card = json.dumps({**CREATE_BODY, "gateway": "card", "card": card_number})

    def post(url: str, body: str) -> Callable[[int], Load]:
        say(f"wrk POST {url}")
        script, env = BENCH_DIR / "post.lua", {"BODY": body}
        # Warm first, as the reads are: a gunicorn worker's first POSTs import and connect.
        wrk(url, seconds=1, script=script, headers=auth, env=env)
        return lambda slice_seconds: wrk(
            url, seconds=slice_seconds, script=script, headers=auth, env=env
        )

    (ceiling, ceiling_cpu, ceiling_requests), (product, product_cpu, product_requests) = (
        side_by_side(
            post(f"{base}/bench/payments/", ecpay),
            post(f"{base}/api/v1/payments/", ecpay),
            seconds=seconds,
        )
    )
    with_card = post(f"{base}/api/v1/payments/", card)(seconds)
    return [
        _throughput("create payment (ECPay) req/s", product, ceiling, 0.7),
        _latency_row("create payment (ECPay) p99", product, ceiling),
        _cpu_row(
            "create payment (ECPay): CPU ms per request",
            (product_cpu, product_requests),
            (ceiling_cpu, ceiling_requests),
        ),
        Row(
            "create payment (card, calls the simulator) req/s",
            _rate(with_card),
            _rate(ceiling),
            with_card.requests_per_second / ceiling.requests_per_second,
            "(reported)",
            None,
        ),
        _latency_row("create payment (card) p99", with_card, ceiling),
    ]


def _notifications(base: str, users: "Users", sizes: Sizes) -> list[Row]:
    payments, script_env = _notification_bodies(users, sizes.notifications, "ecpay-notifications")

    def post(url: str) -> Callable[[int], Load]:
        say(f"wrk POST {url} ({sizes.notifications:,} distinct notifications)")
        script = BENCH_DIR / "bodies.lua"
        # Warmed as the creates are. Each timed run starts again from the first notification:
        # a delivery stored already costs the request what a new one does (applying it, where
        # a repeat would be a duplicate, is the worker's).
        wrk(url, seconds=1, threads=2, script=script, env=script_env)
        return lambda slice_seconds: wrk(
            url, seconds=slice_seconds, threads=2, script=script, env=script_env
        )

    (ceiling, ceiling_cpu, ceiling_requests), (product, product_cpu, product_requests) = (
        side_by_side(
            post(f"{base}/bench/locked-update/"),
            post(f"{base}/callbacks/ecpay/notify/"),
            seconds=sizes.seconds,
        )
    )
    # Each of the product's two runs starts from the first notification again.
    repeated = product_requests / 2 > len(payments)
    note = " (some repeated: more requests than notifications)" if repeated else ""
    return [
        _throughput(f"ECPay notification req/s{note}", product, ceiling, 0.7),
        _latency_row("ECPay notification p99", product, ceiling),
        _cpu_row(
            "ECPay notification: CPU ms per request",
            (product_cpu, product_requests),
            (ceiling_cpu, ceiling_requests),
        ),
    ]


def _notifications_with_worker(
    env: dict[str, str], base: str, users: "Users", sizes: Sizes
) -> list[Row]:
    """The product's notification load again, with the worker applying them as they come.

    The timed runs above have no worker: every request after the first finds an earlier
    notification waiting and queues no drain, the best case. Here drains run and empty the
    inbox, and the request after that queues one again: this says how often, and the rate the
    web server keeps while the worker shares its two cores (so no ceiling)."""
    import redis

    from bench.tasks import DRAINS_KEY
    from gateways.models import CallbackOutcome, GatewayCallback
    from tests.processes import wait_for

    # What the runs above stored, never applied, would have every request here find one
    # waiting, and the worker start on thousands at once.
    GatewayCallback.objects.all().delete()
    broker = redis.Redis.from_url(env["CELERY_BROKER_URL"])
    broker.flushdb()
    _, script_env = _notification_bodies(users, sizes.notifications, "ecpay-notifications-live")
    url = f"{base}/callbacks/ecpay/notify/"
    with celery_worker(env):
        say(f"wrk POST {url} with the worker applying the notifications")
        broker.delete(DRAINS_KEY)
        load = wrk(url, seconds=sizes.seconds, script=BENCH_DIR / "bodies.lua", env=script_env)
        waiting = GatewayCallback.objects.filter(outcome=CallbackOutcome.RECEIVED)
        wait_for(lambda: not waiting.exists(), timeout=300, what="the worker to apply them all")
        drains = int(broker.get(DRAINS_KEY) or 0)
    stored = GatewayCallback.objects.count()
    name = "ECPay notification, with the worker applying them"
    return [
        Row(f"{name}: req/s", _rate(load), "", None, "(reported)", None),
        Row(
            f"{name}: drains run per 100 notifications",
            f"{100 * drains / max(stored, 1):.1f} ({drains:,} for {stored:,})",
            "",
            None,
            "(reported)",
            None,
        ),
    ]


def _notification_bodies(
    users: "Users", count: int, name: str
) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """`count` pending ECPay payments and a file of a signed "paid" notification for each (in
    LOG_DIR, as `name`.txt); the payments, and the environment bench/bodies.lua reads it with."""
    from bench import data

    payments = data.pending_ecpay_create(count, user=users.customer)
    bodies = LOG_DIR / f"{name}.txt"
    data.ecpay_notifications_write(payments, bodies)
    return payments, {"BODIES": str(bodies), "THREADS": "2"}


# A side's load, the CPU it spent (bench/cpu.py) and how many requests that was.
Measured = tuple[Load, dict[str, float], int]


def side_by_side(
    ceiling: Callable[[int], Load], product: Callable[[int], Load], *, seconds: int
) -> tuple[Measured, Measured]:
    """Each side loaded for `seconds` in all (rounded down to even), in halves taken in the
    order ceiling, product, product, ceiling, with the CPU each side spent and its requests.

    This VM's speed drifts by tens of percent from one minute to the next: with one side run
    after the other, the drift lands on the ratio; taken this way, a steady drift lands on
    both sides alike."""
    half = max(seconds // 2, 1)
    loads: dict[str, list[Load]] = {"ceiling": [], "product": []}
    cpu: dict[str, dict[str, float]] = {"ceiling": {}, "product": {}}
    for side in ("ceiling", "product", "product", "ceiling"):
        with cpu_spent() as spent:
            loads[side].append((ceiling if side == "ceiling" else product)(half))
        for role, seconds_spent in spent.items():
            cpu[side][role] = cpu[side].get(role, 0.0) + seconds_spent

    def measured(side: str) -> Measured:
        requests = sum(load.requests_per_second * half for load in loads[side])
        return _combined(loads[side]), cpu[side], max(round(requests), 1)

    return measured("ceiling"), measured("product")


def _combined(loads: list[Load]) -> Load:
    """Runs of equal length as one: their mean rate, their worst latencies, all their errors."""
    return Load(
        requests_per_second=sum(load.requests_per_second for load in loads) / len(loads),
        p99_ms=max(load.p99_ms for load in loads),
        p50_ms=max(load.p50_ms for load in loads),
        errors=sum(load.errors for load in loads),
    )


def _pipeline(env: dict[str, str], users: "Users", count: int) -> list[Row]:
    import redis

    from bench import data
    from bench.tasks import DONE_KEY, bench_chain_start
    from gateways.card import get_card_gateway
    from payments.models import Payment, PaymentStatus
    from payments.tasks import payment_validate

    broker = redis.Redis.from_url(env["CELERY_BROKER_URL"])
    # What the notifications queued (update → notify) is not this benchmark's work.
    broker.flushdb()
    from bench.queries import CARD

    token = get_card_gateway().tokenize(CARD).token
    ids = data.pending_card_create(count, token=token)
    with celery_worker(env):
        say(f"pipeline ceiling: {count} chains of 4 no-op tasks")
        with cpu_spent() as ceiling_cpu:
            ceiling = _per_second(
                count,
                start=lambda: _each(bench_chain_start, ids),
                done=lambda: int(broker.get(DONE_KEY) or 0),
            )
        say(f"pipeline: {count} card payments, validate → process → update → notify")
        completed = Payment.objects.filter(pk__in=ids, status=PaymentStatus.COMPLETED)
        with cpu_spent() as product_cpu:
            product = _per_second(
                count,
                start=lambda: _each(payment_validate.delay, ids),
                done=completed.count,
            )
    steps_cpu, steps_count = _pipeline_steps_alone(token, max(count // 4, 50))
    # The target is the orchestration's cost: a payment through the worker against the same
    # four steps called alone (issue 19). The chain of four no-op tasks stays beside it as a
    # reported figure: no design can carry a real charge and its writes in four empty tasks'
    # time on this stack (bench/RESULTS.md, "the pipeline's budget").
    return [
        _cpu_row(
            "pipeline: CPU ms per payment through the worker, against its four steps alone "
            "(one process, no broker)",
            (product_cpu, count),
            (steps_cpu, steps_count),
            target=PIPELINE_ORCHESTRATION_TARGET,
        ),
        Row(
            f"pipeline: completed card payments/s (1 worker, concurrency "
            f"{WORKER_CONCURRENCY}), against chains of 4 no-op tasks/s",
            f"{product:.1f}/s",
            f"{ceiling:.1f} chains/s",
            product / ceiling,
            "(reported)",
            None,
        ),
        _cpu_row(
            "pipeline: CPU ms per payment, against a chain of 4 no-op tasks",
            (product_cpu, count),
            (ceiling_cpu, count),
        ),
    ]


def _pipeline_steps_alone(token: str, count: int) -> tuple[dict[str, float], int]:
    """What the pipeline's steps cost with no task machinery at all: each payment's four steps
    called one after the other in this process (`steps`), with the database and the card
    provider they use. No task design can make a payment cheaper than this."""
    from bench import data
    from payments import pipeline
    from payments.models import Payment, PaymentStatus

    ids = data.pending_card_create(count, token=token)
    say(f"pipeline steps alone: {count} card payments in this process, no broker")
    with cpu_spent(this_process_as="steps") as spent:
        for pk in ids:
            pipeline.validate(pk)
            pipeline.process(pk)
            pipeline.update(pk)
            pipeline.notify(pk)
    completed = Payment.objects.filter(pk__in=ids, status=PaymentStatus.COMPLETED).count()
    if completed != count:
        raise RuntimeError(f"only {completed} of {count} payments completed in this process")
    return spent, count


CpuSpent = tuple[dict[str, float], int]


def _cpu_row(
    name: str, product: CpuSpent, ceiling: CpuSpent, *, target: float | None = None
) -> Row:
    """Where the cores went, process by process (bench/cpu.py): the first thing to read when a
    throughput ratio misses. Each side is the CPU it spent and the requests or payments it
    made, for a per-item figure. With a `target`, the product may cost at most that many
    times the ceiling."""
    (product_cpu, product_items), (ceiling_cpu, ceiling_items) = product, ceiling
    ratio = (sum(product_cpu.values()) / product_items) / (
        sum(ceiling_cpu.values()) / ceiling_items
    )
    return Row(
        name,
        describe(product_cpu, product_items),
        describe(ceiling_cpu, ceiling_items),
        ratio,
        "" if target is None else f"≤ {target}×",
        None if target is None else ratio <= target,
    )


def _each(start: Callable[[int], object], ids: list[int]) -> None:
    for pk in ids:
        start(pk)


def _per_second(count: int, *, start: Callable[[], object], done: Callable[[], int]) -> float:
    began = time.monotonic()
    start()
    deadline = began + 600
    while done() < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {done()} of {count} done after 600 s")
        time.sleep(0.05)
    return count / (time.monotonic() - began)


Reads = dict[str, Load]


def _reads(base: str, users: "Users", *, seconds: int) -> Reads:
    from bench import data

    admin = data.admin_client(users.staff)
    session = {"Cookie": f"sessionid={admin.cookies['sessionid'].value}"}
    targets = {
        "API list (staff)": (
            "/api/v1/payments/",
            {"Authorization": f"Token {users.staff_token}"},
        ),
        "API list (customer)": (
            "/api/v1/payments/",
            {"Authorization": f"Token {users.customer_token}"},
        ),
        "admin changelist": ("/admin/payments/payment/", session),
    }
    count = data.payments_count()
    loads = {}
    for name, (path, headers) in targets.items():
        say(f"wrk GET {path} as {name} at {count:,} payments")
        # Warm first: every gunicorn worker's first request imports and connects.
        wrk(f"{base}{path}", seconds=1, connections=8, headers=headers)
        # Few connections: this measures latency, not how much the server takes at once.
        loads[name] = wrk(f"{base}{path}", seconds=seconds, connections=2, headers=headers)
    return loads


def _scale_rows(small: Reads, large: Reads, payments: int) -> list[Row]:
    rows = []
    for name, load in large.items():
        if load.requests_per_second == 0:
            # Not one answer within wrk's timeout: no latency to divide.
            measured = f"no answer within 10 s ({load.errors} timeouts)"
            rows.append(Row(name, measured, f"{small[name].p50_ms:.1f} ms", None, "≤ 2×", False))
            continue
        ratio = load.p50_ms / small[name].p50_ms
        rows.append(
            Row(
                f"{name} median latency at {payments:,} vs 1,000",
                f"{load.p50_ms:.1f} ms (p99 {load.p99_ms:.0f})",
                f"{small[name].p50_ms:.1f} ms (p99 {small[name].p99_ms:.0f})",
                ratio,
                "≤ 2×",
                ratio <= 2,
            )
        )
    return rows


def _tracing(env: dict[str, str], base: str, users: "Users", *, seconds: int) -> list[Row]:
    """What tracing costs a request when on (spans exported over OTLP to a collector on
    loopback), against the same server with it off; and that off, nothing of it is loaded."""
    from bench.stack import WEB_WORKERS
    from tests.otlp import otlp_collector
    from tests.processes import free_port, gunicorn

    path, headers = "/api/v1/payments/", {"Authorization": f"Token {users.customer_token}"}
    with otlp_collector() as collector:
        traced = {**env, "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint}
        # As web_server serves the product, tracing aside.
        workers = ("--worker-class", "sync", "--workers", str(WEB_WORKERS))
        port = free_port()
        with gunicorn(*workers, env=traced, log=LOG_DIR / "web-traced.log", port=port) as on_base:
            # In turns, twice each, after a warm-up each: the machine's drift falls on both.
            loads: dict[str, list[Load]] = {"off": [], "on": []}
            for url in (base, on_base):
                wrk(f"{url}{path}", seconds=1, connections=8, headers=headers)
            for _ in range(2):
                for name, url in (("off", base), ("on", on_base)):
                    say(f"wrk GET {path} with tracing {name}")
                    loads[name].append(
                        wrk(f"{url}{path}", seconds=seconds, connections=8, headers=headers)
                    )
        spans = len(collector.spans)
    off, on = _combined(loads["off"]), _combined(loads["on"])
    loaded = subprocess.run(
        [PYTHON, "-c", _MODULES_AFTER_A_REQUEST],
        capture_output=True,
        text=True,
        check=True,
        cwd=BENCH_DIR.parent,
        env=env,
    ).stdout.strip()
    ratio = on.requests_per_second / off.requests_per_second
    return [
        Row(
            f"API list with tracing on ({spans:,} spans exported)",
            _rate(on),
            _rate(off) + " off",
            ratio,
            "report",
            None,
        ),
        Row("OpenTelemetry modules loaded, tracing off", loaded, "", None, "0", loaded == "0"),
    ]


# A request through the app with tracing off, then how many OpenTelemetry modules are loaded.
_MODULES_AFTER_A_REQUEST = """
import sys, django
django.setup()
from django.test import Client
Client(HTTP_HOST="localhost").get("/api/v1/payments/")
print(sum(name.startswith("opentelemetry") for name in sys.modules))
"""


def _commands(count: int) -> list[Row]:
    say(f"commands over {count:,} payments (SQLite, tracemalloc): bench/commands_memory.py")
    done = subprocess.run(
        [PYTHON, str(BENCH_DIR / "commands_memory.py"), "--payments", str(count), "--json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=BENCH_DIR.parent,
        env={k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))},
    )
    rows = []
    for result in json.loads(done.stdout.strip().splitlines()[-1]):
        ratio = result["peak"] / result["ceiling"]
        rows.append(
            Row(
                f"{result['command']} over {count:,}: peak memory ({result['seconds']:.1f} s)",
                f"{result['peak'] / 1024:.0f} KiB",
                f"{result['ceiling'] / 1024:.0f} KiB at 1,000 ({result['ceiling_seconds']:.2f} s)",
                ratio,
                "≤ 2×",
                ratio <= 2,
            )
        )
    return rows


def _throughput(name: str, product: Load, ceiling: Load, target: float) -> Row:
    ratio = product.requests_per_second / ceiling.requests_per_second
    return Row(name, _rate(product), _rate(ceiling), ratio, f"≥ {target}×", ratio >= target)


def _latency_row(name: str, product: Load, ceiling: Load) -> Row:
    ratio = product.p99_ms / ceiling.p99_ms
    return Row(name, f"{product.p99_ms:.0f} ms", f"{ceiling.p99_ms:.0f} ms", ratio, "", None)


def _rate(load: Load) -> str:
    errors = f", {load.errors} errors" if load.errors else ""
    return f"{load.requests_per_second:.0f}/s{errors}"


def table(rows: list[Row]) -> str:
    header = ["benchmark", "measured", "ceiling", "ratio", "target", ""]
    lines = [header, ["---"] * len(header), *(row.cells() for row in rows)]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
