"""A real worker process takes tasks off a real broker.

The first test is the zero-setup run exactly as bin/run starts it: the default settings, the
filesystem broker, a `celery worker` process, and a task sent by another process.
"""

import os
from pathlib import Path

import pytest

from tests.processes import PYTHON, manage, project_environment, running, wait_for


def run_worker_and_send_ping(env: dict[str, str], log: Path) -> str:
    """Start a worker, send `core.tasks.ping` from a separate process, return the worker's log."""
    with running(
        [
            PYTHON,
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
        env=env,
        log=log,
        ready=lambda: log.exists() and "ready." in log.read_text(),
    ):
        sent = manage("shell", "-c", "from core.tasks import ping; print(ping.delay().id)", env=env)
        task_id = sent.strip().splitlines()[-1]
        wait_for(
            lambda: f"core.tasks.ping[{task_id}] succeeded" in log.read_text(),
            timeout=60,
            what=f"the worker to run task {task_id}",
        )
    return log.read_text()


def default_run_environment(tmp_path: Path) -> dict[str, str]:
    return project_environment(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CELERY_FILESYSTEM_BROKER_DIR=str(tmp_path / "broker"),
    )


def test_the_default_run_worker_takes_a_task_from_the_filesystem_broker(tmp_path):
    log = run_worker_and_send_ping(default_run_environment(tmp_path), tmp_path / "worker.log")

    assert "'pong'" in log
    assert "filesystem://" in log
    assert not list((tmp_path / "broker" / "queue").iterdir()), "the message was not consumed"


@pytest.mark.integration
def test_a_worker_takes_a_task_from_redis(tmp_path):
    env = default_run_environment(tmp_path)
    # A Redis database of its own: the integration tests' worker listens on the suite's one.
    suite_broker = os.environ["CELERY_BROKER_URL"]
    assert suite_broker.startswith("redis://")
    env["CELERY_BROKER_URL"] = suite_broker.rsplit("/", 1)[0] + "/14"

    log = run_worker_and_send_ping(env, tmp_path / "worker.log")

    assert "'pong'" in log
    assert "redis://" in log
