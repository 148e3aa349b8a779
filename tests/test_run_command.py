"""The README's first command, run as a newcomer would: it sets up, seeds, serves and works."""

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
START_SECONDS = 240  # the first run on a fresh machine installs packages


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_bin_run_serves_the_app_with_a_worker_and_prints_a_working_staff_password(tmp_path):
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_"))
    }
    env.update(
        PORT=str(port),
        DJANGO_ENV_FILE=str(tmp_path / ".env"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CELERY_FILESYSTEM_BROKER_DIR=str(tmp_path / "broker"),
    )
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log:
        run = subprocess.Popen(
            ["bin/run"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while "Press Ctrl-C" not in log_path.read_text():
            assert run.poll() is None, f"bin/run stopped:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"bin/run did not start:\n{log_path.read_text()}"
            time.sleep(0.5)
        output = log_path.read_text()
        base = f"http://127.0.0.1:{port}"
        assert f"{base}/admin/" in output

        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as health:
            assert health.status == 200

        staff_password = re.search(r"staff@example\.com\s+password: (\S+)", output)
        assert staff_password, output
        cookies = CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
        browser.open(f"{base}/admin/login/", timeout=10)
        csrf = next(cookie.value for cookie in cookies if cookie.name == "csrftoken")
        form = urlencode(
            {
                "username": "staff@example.com",
                "password": staff_password.group(1),
                "csrfmiddlewaretoken": csrf,
                "next": "/admin/",
            }
        ).encode()
        request = urllib.request.Request(
            f"{base}/admin/login/", data=form, headers={"Referer": f"{base}/admin/login/"}
        )
        with browser.open(request, timeout=10) as signed_in:
            assert signed_in.url == f"{base}/admin/"
            assert "Site administration" in signed_in.read().decode()

        # The worker bin/run started takes a task sent by another process.
        sender = subprocess.run(
            [
                str(ROOT / ".venv/bin/python"),
                "manage.py",
                "shell",
                "-c",
                "from core.tasks import ping; print(ping.delay().id)",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        task_id = sender.stdout.strip().splitlines()[-1]
        while f"core.tasks.ping[{task_id}] succeeded" not in log_path.read_text():
            assert time.monotonic() < deadline + 60, log_path.read_text()
            time.sleep(0.5)
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        run.wait(timeout=30)
