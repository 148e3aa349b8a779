"""The README's first command, run as a newcomer would: it sets up, seeds, serves and works."""

import base64
import os
import re
import signal
import subprocess
import urllib.request
from http.cookiejar import CookieJar
from urllib.parse import urlencode

from django_otp.oath import totp

from core.published import DEVELOPMENT_DEFAULTS
from tests.processes import PYTHON, ROOT, free_port, project_environment, wait_for

START_SECONDS = 240  # the first run on a fresh machine installs packages
STOP_SECONDS = 60


def group_alive(group: int) -> bool:
    """Whether any process of the group still runs (reap the leader first: a zombie counts)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def test_bin_run_serves_the_app_with_a_worker_and_prints_a_working_staff_sign_in(tmp_path):
    port = free_port()
    env = project_environment(
        PORT=str(port),
        DJANGO_ENV_FILE=str(tmp_path / ".env"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CELERY_FILESYSTEM_BROKER_DIR=str(tmp_path / "broker"),
    )
    del env["DJANGO_SECRET_KEY"]  # bin/run writes one into the new .env
    # As on a newcomer's machine: the gateways' secrets and endpoints come from that .env and
    # bin/run, never from the suite.
    for name in DEVELOPMENT_DEFAULTS:
        del env[name]
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
        wait_for(
            lambda: "Press Ctrl-C" in log_path.read_text() or run.poll() is not None,
            timeout=START_SECONDS,
            what="bin/run to start",
        )
        output = log_path.read_text()
        assert run.poll() is None, f"bin/run stopped:\n{output}"
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
        with browser.open(request, timeout=10) as asked_for_a_code:
            # A manager may refund: the back office wants a second factor, set up from the
            # link bin/run printed.
            assert asked_for_a_code.url.startswith(f"{base}/admin/two-factor/")
        link = re.search(r"staff@example\.com.*?set it up here: (\S+)", output, re.DOTALL)
        assert link, output
        with browser.open(link.group(1), timeout=10) as enrolment:
            page = enrolment.read().decode()
        secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)</code>', page)
        assert secret, page
        code = totp(base64.b32decode(secret.group(1).replace(" ", "")))
        csrf = next(cookie.value for cookie in cookies if cookie.name == "csrftoken")
        confirm = urllib.request.Request(
            link.group(1),
            data=urlencode({"code": f"{code:06d}", "csrfmiddlewaretoken": csrf}).encode(),
            headers={"Referer": link.group(1)},
        )
        with browser.open(confirm, timeout=10) as enrolled:
            assert "recovery-codes" in enrolled.read().decode()
        with browser.open(f"{base}/admin/", timeout=10) as signed_in:
            assert signed_in.url == f"{base}/admin/"
            assert "Payments back office" in signed_in.read().decode()

        # The worker bin/run started takes a task sent by another process.
        env["DJANGO_ENV_FILE"] = str(tmp_path / ".env")
        sender = subprocess.run(
            [
                PYTHON,
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
        wait_for(
            lambda: f"core.tasks.ping[{task_id}] succeeded" in log_path.read_text(),
            timeout=60,
            what="the worker to run the task",
        )
    finally:
        # Stopped the way a supervisor stops it: SIGTERM to the script, which stops the rest.
        run.send_signal(signal.SIGTERM)
        try:
            wait_for(
                lambda: run.poll() is not None and not group_alive(run.pid),
                timeout=STOP_SECONDS,
                what="bin/run and everything it started to stop",
            )
        finally:
            if group_alive(run.pid):
                os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=10)
