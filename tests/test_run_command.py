"""The README's first command, run as a newcomer would: it sets up, seeds, serves and works, and
the README's tours, run from README.md as written, against it, give what the README says."""

import base64
import json
import os
import re
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django_otp.oath import totp

from core.published import DEVELOPMENT_DEFAULTS
from tests.processes import PYTHON, ROOT, free_port, project_environment, wait_for

START_SECONDS = 240  # the first run on a fresh machine installs packages
STOP_SECONDS = 60
TOURS_SECONDS = 240


def group_alive(group: int) -> bool:
    """Whether any process of the group still runs (reap the leader first: a zombie counts)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class BinRun:
    port: int
    base: str
    env: dict[str, str]  # what a command run beside it gets: its .env, database and broker
    log_path: Path
    mail: Path

    def output(self) -> str:
        return self.log_path.read_text()


@pytest.fixture(scope="module")
def bin_run(tmp_path_factory) -> Iterator[BinRun]:
    """bin/run started once for the module, as a newcomer starts it, in a folder of its own."""
    folder = tmp_path_factory.mktemp("bin-run")
    port = free_port()
    env = project_environment(
        PORT=str(port),
        DJANGO_ENV_FILE=str(folder / ".env"),
        DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}",
        CELERY_FILESYSTEM_BROKER_DIR=str(folder / "broker"),
        EMAIL_FILE_PATH=str(folder / "mail"),
    )
    del env["DJANGO_SECRET_KEY"]  # bin/run writes one into the new .env
    # As on a newcomer's machine: the gateways' secrets and endpoints come from that .env and
    # bin/run, never from the suite.
    for name in DEVELOPMENT_DEFAULTS:
        del env[name]
    log_path = folder / "run.log"
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
        assert run.poll() is None, f"bin/run stopped:\n{log_path.read_text()}"
        # Beside it, commands find the same .env, database and broker, as in the reader's shell;
        # PORT comes from the export line bin/run printed, as the reader pastes it.
        beside = {**env}
        del beside["PORT"]
        yield BinRun(
            port=port,
            base=f"http://127.0.0.1:{port}",
            env=beside,
            log_path=log_path,
            mail=folder / "mail",
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


def test_bin_run_serves_the_app_with_a_worker_and_prints_a_working_staff_sign_in(bin_run):
    output = bin_run.output()
    base = bin_run.base
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
    sender = subprocess.run(
        [
            PYTHON,
            "manage.py",
            "shell",
            "-c",
            "from core.tasks import ping; print(ping.delay().id)",
        ],
        cwd=ROOT,
        env={**bin_run.env, "PORT": str(bin_run.port)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    task_id = sender.stdout.strip().splitlines()[-1]
    wait_for(
        lambda: f"core.tasks.ping[{task_id}] succeeded" in bin_run.output(),
        timeout=60,
        what="the worker to run the task",
    )


# --- The README's tours ---------------------------------------------------------------------

TOUR = re.compile(r"```bash\n# tour: (?P<name>[a-z-]+)\n(?P<code>.*?)```", re.DOTALL)
BASH_BLOCK = re.compile(r"```bash\n(?P<code>.*?)```", re.DOTALL)
# The README's bash blocks that are not tours, by their first line: they start bin/run, bin/test
# or the benchmarks, or change a real user.
NOT_TOURS = {
    "bin/run     # set up, load demo data, run the web server and a worker: http://127.0.0.1:8000/",
    "make bench         # ~10 minutes: the real stack on loopback under wrk, 1,000,000 payments",
    '.venv/bin/python manage.py shell -c "from accounts.models import User; \\',
}
MARK = "=== tour:"


def readme_tours() -> list[tuple[str, str]]:
    readme = (ROOT / "README.md").read_text()
    untested = {
        block.group("code").splitlines()[0]
        for block in BASH_BLOCK.finditer(readme)
        if not block.group("code").startswith("# tour: ")
    }
    assert untested == NOT_TOURS, (
        "Every bash block of the README is a tour this test runs (its first line "
        "'# tour: <name>') or one of NOT_TOURS."
    )
    return [(tour.group("name"), tour.group("code")) for tour in TOUR.finditer(readme)]


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_the_readme_s_tours_run_as_written_and_give_what_it_says(bin_run):
    """Every tour block of README.md, in order, in one bash, after the export line bin/run
    printed, as a reader pastes them into a second shell."""
    [export_line] = [line for line in bin_run.output().splitlines() if "export PORT=" in line]
    tours = readme_tours()
    script = "\n".join(
        ["set -euo pipefail", export_line.strip()]
        + [f"echo '{MARK} {name}'\n{code}" for name, code in tours]
    )
    ran = subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        env=bin_run.env,
        capture_output=True,
        text=True,
        timeout=TOURS_SECONDS,
    )
    assert ran.returncode == 0, f"{ran.stdout}\n{ran.stderr}"
    said = dict(
        chunk.split("\n", 1) for chunk in ran.stdout.split(f"{MARK} ")[1:]
    )  # tour name → what it printed
    assert (
        list(said)
        == [name for name, _ in tours]
        == [
            "setup",
            "card",
            "declined-and-ecpay",
            "balance",
            "refund",
            "orders",
            "wallet-callbacks",
            "operators",
        ]
    )

    assert re.fullmatch(r"\d{12}\n", said["setup"]), said["setup"]

    paid, order, again = json_lines(said["card"])
    assert (paid["status"], paid["amount"], paid["card"]["last4"]) == (
        "completed",
        "960.00",
        "4242",
    )
    assert (order["status"], order["paid_by"]) == ("paid", paid["id"])
    assert again == {"code": "order_already_paid"}

    declined, ecpay, cancelled = json_lines(said["declined-and-ecpay"])
    assert declined["status"] == "failed"
    assert "card_declined" in declined["failure_reason"]
    first_id, retried_id = re.findall(r"^pay_\w+$", said["declined-and-ecpay"], re.MULTILINE)
    assert first_id == retried_id  # the Idempotency-Key answered the first payment again
    assert ecpay["status"] == "pending"
    assert ecpay["next_action"] == {
        "type": "redirect_to_url",
        "url": f"{bin_run.base}/checkout/payments/{first_id}/",
    }
    assert cancelled == {"id": first_id, "status": "cancelled"}

    empty, deposit, topped_up, from_balance, debit, credit, withdrawal = json_lines(said["balance"])
    assert empty == {"balance": "0.00", "currency": "TWD"}
    assert (deposit["status"], deposit["amount"]) == ("completed", "2000.00")
    assert topped_up == {"balance": "2000.00", "currency": "TWD"}
    assert (from_balance["status"], from_balance["amount"]) == ("completed", "960.00")
    assert debit == {"entry_type": "order_payment", "amount": "-960.00", "balance_after": "1040.00"}
    assert credit == {"entry_type": "deposit", "amount": "2000.00", "balance_after": "2000.00"}
    assert withdrawal == {"status": "completed", "amount": "100.00"}

    asked, made = json_lines(said["refund"])
    assert asked == {"id": f"{paid['id']}-refund-1", "status": "pending", "amount": "100.00"}
    assert made == {"id": f"{paid['id']}-refund-1", "status": "succeeded"}

    created, last_paid, quote = json_lines(said["orders"])
    assert created["status"] == "pending_payment"
    assert (created["subtotal"], created["shipping_fee"], created["total"]) == (
        "900.00",
        "60.00",
        "960.00",
    )
    assert (last_paid["status"], last_paid["items"], last_paid["payment"]) == (
        "paid",
        ["TEA-001"],
        "balance",
    )
    assert quote == {"subtotal": "900.00", "total": "960.00", "matches_order_total": True}

    callbacks = said["wallet-callbacks"]
    assert re.search(r"payment id wallet-\d{12}\n200 \{\"status\": \"accepted\"\}", callbacks)
    assert '200 {"status": "duplicate"}' in callbacks
    [wallet_paid] = json_lines(callbacks)
    assert wallet_paid["status"] == "paid"
    assert wallet_paid["payment"] == {"gateway": "wallet", "total_paid": "960.00"}

    operators = said["operators"]
    assert "Every balance matches its ledger" in operators
    for queue in ("pipeline", "notifications", "maintenance"):
        assert f"{queue}: " in operators
    queued = re.search(r"queued (pay_\w+): 500 TWD", operators)
    assert queued, operators
    assert "checked 0, recovered 0, 0 discrepancies, 0 errors" in operators
    assert "would expire 0 payment(s)" in operators
    assert "would reprocess 0 payment(s), 0 refused" in operators

    # The customer's emails went to the development mailbox, each one line in the console; the
    # operators' test payment is the worker's to finish.
    def mailed() -> list[str]:
        return re.findall(r'Mail to customer@example\.com: "([^"]+)"', bin_run.output())

    wait_for(lambda: len(mailed()) >= 7, timeout=60, what="the test payment's email")
    console = bin_run.output()
    assert sorted(mailed()) == sorted(
        [
            "Payment received: 960.00 TWD",  # by card
            "Payment failed: 960.00 TWD",  # the declined card
            "Payment received: 2000.00 TWD",  # the deposit
            "Payment received: 960.00 TWD",  # from the balance
            "Payment received: 960.00 TWD",  # by the wallet
            "Payment received: 500.00 TWD",  # the operators' test payment
            "Payment refunded: 100.00 TWD",  # the refund of part of the card payment
        ]
    )
    assert len(list(bin_run.mail.glob("*.eml"))) == 7
    assert "<html" not in console
    with urllib.request.urlopen(f"{bin_run.base}/dev/mail/", timeout=10) as mailbox:
        assert mailbox.read().decode().count("Payment received: 960.00 TWD") == 3
