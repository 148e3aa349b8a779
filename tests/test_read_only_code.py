"""Production starts from a code folder it cannot write to, as on Lambda (its code is read-only)
and in the image (the code belongs to root; the service runs as another user): loading the
settings and the apps writes nothing there, and a request is served (issue 25, 2)."""

import os
import subprocess
from pathlib import Path

import pytest

from core.checks import COLLECTED_MARKER
from tests.processes import PYTHON, committed_code, make_read_only
from tests.test_deploy_settings import production_environment

# Loads the apps (with the deploy checks, as zappa starts) and serves one request.
SERVE_ONE_REQUEST = """
import django
django.setup()
from django.test import Client
answer = Client().get("/healthz", HTTP_HOST="payments.example.com", secure=True)
print("served", answer.status_code)
"""


def start(code: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Python in `code`, without the power to write where the permissions say no: run by root,
    it drops every capability first (root ignores a folder's permissions otherwise)."""
    command = [PYTHON, "-c", SERVE_ONE_REQUEST]
    if os.geteuid() == 0:
        command = ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--", *command]
    return subprocess.run(
        command,
        cwd=code,
        env={**env, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(code)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def code(tmp_path):
    code = committed_code(tmp_path / "code")
    # What the Lambda package carries besides the code: its collected static files.
    marker = code / "staticfiles" / COLLECTED_MARKER
    marker.parent.mkdir(parents=True)
    marker.write_text("body {}")
    make_read_only(code)
    yield code
    for path in [code, *code.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)


def test_production_loads_and_serves_from_a_read_only_code_folder(code, tmp_path):
    env = production_environment(
        tmp_path, DJANGO_STATIC_ROOT="staticfiles", DJANGO_DEPLOY_CHECK_ON_START="true"
    )

    done = start(code, env)

    assert done.returncode == 0, done.stderr
    assert "served 200" in done.stdout
    assert not (code / "var").exists()


def test_without_its_static_files_production_refuses_to_start_and_says_why(code, tmp_path):
    env = production_environment(tmp_path, DJANGO_DEPLOY_CHECK_ON_START="true")
    del env["DJANGO_STATIC_ROOT"]  # the default, var/static, which nothing built

    done = start(code, env)

    assert done.returncode != 0
    assert "core.E013" in done.stderr
    assert "PermissionError" not in done.stderr
