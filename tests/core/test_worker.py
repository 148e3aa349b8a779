"""A real worker process takes tasks off a real broker.

The first test is the zero-setup run exactly as bin/run starts it: the default settings, the
filesystem broker, a `celery worker` process, and a task sent by another process.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 60


def run_worker_and_send_ping(env: dict[str, str]) -> str:
    """Start a worker, send `core.tasks.ping` from a separate process, return the worker's log."""
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-l",
            "INFO",
            "-c",
            "1",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        sender = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                "from core.tasks import ping; print(ping.delay().id)",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=WAIT_SECONDS,
            check=True,
        )
        task_id = sender.stdout.strip().splitlines()[-1]
        done = f"core.tasks.ping[{task_id}] succeeded"
        log: list[str] = []
        deadline = time.monotonic() + WAIT_SECONDS
        assert worker.stdout is not None
        os.set_blocking(worker.stdout.fileno(), False)
        while time.monotonic() < deadline:
            line = worker.stdout.readline()
            if not line:
                if worker.poll() is not None:
                    break
                time.sleep(0.1)
                continue
            log.append(line)
            if done in line:
                return "".join(log)
        pytest.fail(f"the worker did not run task {task_id}:\n{''.join(log)}")
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def default_run_environment(tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "CELERY_", "DJANGO_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_ENV_FILE="",
        DJANGO_SECRET_KEY="worker-test",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CELERY_FILESYSTEM_BROKER_DIR=str(tmp_path / "broker"),
    )
    return env


def test_the_default_run_worker_takes_a_task_from_the_filesystem_broker(tmp_path):
    env = default_run_environment(tmp_path)

    log = run_worker_and_send_ping(env)

    assert "'pong'" in log
    assert not list((tmp_path / "broker" / "queue").iterdir()), "the message was not consumed"


@pytest.mark.integration
def test_a_worker_takes_a_task_from_redis(tmp_path):
    env = default_run_environment(tmp_path)
    # A Redis database of its own: the integration tests' worker listens on the suite's one.
    suite_broker = os.environ["CELERY_BROKER_URL"]
    assert suite_broker.startswith("redis://")
    env["CELERY_BROKER_URL"] = suite_broker.rsplit("/", 1)[0] + "/14"

    log = run_worker_and_send_ping(env)

    assert "'pong'" in log
