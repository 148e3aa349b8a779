"""The real stack on loopback for the benchmark, and wrk to load it.

gunicorn serves config.wsgi (sync workers, as docs/stack.md records), the card provider simulator
runs as a gunicorn of its own (as the tests start it: tests/processes.py), and a Celery worker
takes the pipeline. Everything binds 127.0.0.1; wrk is only ever pointed there.
"""

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests import processes
from tests.processes import PYTHON, project_environment, running

DATABASE_NAME = "payments_bench"
# The suite uses Redis database 15; the benchmark keeps to its own.
REDIS_URL = "redis://127.0.0.1:6379/14"
WEB_WORKERS = 4
# The worker's processes, one per core; BENCH_WORKER_CONCURRENCY tries another size (4, as
# docs/deploy.md runs it, made no difference here: the two cores are busy at 2).
WORKER_CONCURRENCY = int(os.environ.get("BENCH_WORKER_CONCURRENCY", "2"))
BENCH_DIR = Path(__file__).resolve().parent
LOG_DIR = Path(tempfile.mkdtemp(prefix="bench-logs-"))


def bench_environment(*, card_provider_url: str = "") -> dict[str, str]:
    """What the web server, the worker and the benchmark's own process all run with."""
    return project_environment(
        DJANGO_SECRET_KEY="bench-only-secret-key",
        DJANGO_DEBUG="false",
        DATABASE_URL=f"mysql://payments:payments@127.0.0.1:3306/{DATABASE_NAME}",
        DATABASE_CONN_MAX_AGE="600",
        CELERY_BROKER_URL=REDIS_URL,
        BENCH_ENDPOINTS_ENABLED="true",
        SIMULATORS_ENABLED="false",
        # The load comes from a handful of users: the rate limit would be all we measured.
        API_THROTTLE_USER_RATE="100000000/s",
        API_THROTTLE_ANON_RATE="100000000/s",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        CARD_PROVIDER_URL=card_provider_url,
    )


@contextmanager
def card_simulator() -> Iterator[str]:
    """The card provider simulator with a SQLite database of its own; yields its API's URL."""
    with processes.card_simulator(LOG_DIR, slow_seconds="15", DJANGO_LOG_LEVEL="WARNING") as url:
        yield url


@contextmanager
def web_server(env: dict[str, str]) -> Iterator[str]:
    """gunicorn serving config.wsgi with sync workers; yields its base URL."""
    workers = ("--worker-class", "sync", "--workers", str(WEB_WORKERS))
    with processes.gunicorn(*workers, env=env, log=LOG_DIR / "web.log") as base:
        yield base


@contextmanager
def celery_worker(env: dict[str, str]) -> Iterator[None]:
    """A prefork worker on every queue, with the benchmark's no-op tasks registered too."""
    import redis

    from bench.tasks import DONE_KEY, bench_noop_done

    log = LOG_DIR / "worker.log"
    args = [PYTHON, "-m", "celery", "-A", "config", "worker", "--pool", "prefork"]
    args += ["--concurrency", str(WORKER_CONCURRENCY), "--include", "bench.tasks"]
    args += ["-Q", "pipeline,notifications,maintenance", "--loglevel", "WARNING"]
    args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    # At WARNING the worker logs nothing per task (which would cost the four-task chain four
    # times what it costs the pipeline's one), nor when it is ready: a task it ran says so.
    broker = redis.Redis.from_url(env["CELERY_BROKER_URL"])
    broker.delete(DONE_KEY)
    bench_noop_done.delay(0)
    with running(args, env=env, log=log, ready=lambda: broker.get(DONE_KEY) is not None):
        broker.delete(DONE_KEY)
        yield


@dataclass(frozen=True)
class Load:
    requests_per_second: float
    p99_ms: float
    p50_ms: float
    errors: int


WRK_SECONDS = 10


def wrk(
    url: str,
    *,
    seconds: int = WRK_SECONDS,
    connections: int = 8,
    threads: int = 2,
    script: Path | None = None,
    headers: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> Load:
    """Load `url` (loopback only) for `seconds`; the rate, latency percentiles and errors."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"the benchmark loads loopback only, not {url}")
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    args += ["--timeout", "10s"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    if script is not None:
        args += ["-s", str(script)]
    done = subprocess.run(
        [*args, url],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
        timeout=seconds + 30,
    )
    return parse_wrk(done.stdout)


def parse_wrk(output: str) -> Load:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"\s50%\s+([\d.]+)(us|ms|s)", output)
    p99 = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", output)
    if not (rate and p50 and p99):
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors += int(non_2xx.group(1)) if non_2xx else 0
    return Load(
        requests_per_second=float(rate.group(1)),
        p50_ms=_milliseconds(p50),
        p99_ms=_milliseconds(p99),
        errors=errors,
    )


def _milliseconds(match: re.Match[str]) -> float:
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
