"""Starting real processes for tests: a Celery worker, the card provider simulator, bin/run."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from core.published import DEVELOPMENT_DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
# Variables the project reads: a child process gets only the ones a test gives it.
_PROJECT_PREFIXES = (
    "DJANGO_",
    "DATABASE_",
    "CELERY_",
    "CARD_",
    "PIPELINE_",
    "OPERATION_",
    "SIMULATORS_",
    "EMAIL_",
    "NOTIFICATIONS_",
    "DEFAULT_FROM_EMAIL",
    "ECPAY_",
    "WALLET_",
    "BANK_APP_",
    "SITE_URL",
    "PORT",
    "METRICS_",
    "PROMETHEUS_",
    "SENTRY_",
)


def project_environment(**variables: str) -> dict[str, str]:
    """This process's environment without the project's variables, plus `variables`.

    DEBUG is off unless `variables` turn it on, so the settings default no gateway secret or
    endpoint: the process gets the development ones, as tests/settings.py gives the suite.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PROJECT_PREFIXES)}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_ENV_FILE="",
        DJANGO_SECRET_KEY="tests-only-secret-key",
        **DEVELOPMENT_DEFAULTS,
    )
    env.update(variables)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError as error:
        # An HTTP error status still means something answered.
        return hasattr(error, "code")


@contextmanager
def running(
    args: list[str],
    *,
    env: dict[str, str],
    log: Path,
    ready: Callable[[], bool],
    timeout: float = 90,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `args` from the project root until the block ends; wait until `ready()` first."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for(
            lambda: ready() or process.poll() is not None, timeout=timeout, what=f"{args} to start"
        )
        if process.poll() is not None:
            raise AssertionError(f"{args} exited with {process.returncode}:\n{log.read_text()}")
        yield process
    finally:
        # The main process only: a Celery worker whose pool processes are killed under it
        # waits for them forever. Whatever is left after it stopped is killed.
        process.terminate()
        try:
            process.wait(timeout=30)
        finally:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def manage(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


@contextmanager
def gunicorn(
    *options: str, env: dict[str, str], log: Path, port: int | None = None
) -> Iterator[str]:
    """Serve config.wsgi with gunicorn on 127.0.0.1 (`port`, or a free one), `options` added to
    its command line, until the block ends; yields its base URL once /healthz answers."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    args = [PYTHON, "-m", "gunicorn", *options, "--bind", f"127.0.0.1:{port}", "config.wsgi"]
    with running(args, env=env, log=log, ready=lambda: answers(f"{base}/healthz")):
        yield base


@contextmanager
def card_simulator(folder: Path, *, slow_seconds: str, **variables: str) -> Iterator[str]:
    """Serve the card simulator from `folder` (its SQLite database `simulator.sqlite3` and its
    log) until the block ends; yields its API's URL. The "timeout" card answers after
    `slow_seconds`; `variables` go to its environment."""
    env = project_environment(
        DATABASE_URL=f"sqlite:///{folder / 'simulator.sqlite3'}",
        SIMULATORS_ENABLED="true",
        CARD_SIMULATOR_SLOW_SECONDS=slow_seconds,
        **variables,
    )
    manage("migrate", "--noinput", env=env)
    with gunicorn(
        *("--worker-class", "gthread", "--threads", "16", "--workers", "1"),
        # A "timeout" card's request still sleeping must not hold the test's end for long.
        *("--graceful-timeout", "2"),
        env=env,
        log=folder / "simulator.log",
    ) as base:
        yield f"{base}/simulators/card"


def committed_code(destination: Path) -> Path:
    """A copy of the files git tracks (what a clean clone holds), in `destination`."""
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / name.decode()
        if source.is_file():
            (destination / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name.decode())
    return destination


def make_read_only(folder: Path) -> None:
    """No one may write in `folder` (root aside, unless it drops its capabilities)."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
