"""`manage.py check --deploy` under production settings, in a process of its own."""

import secrets
import subprocess

import pytest

from tests.processes import PYTHON, ROOT, project_environment


def production_environment(tmp_path, **overrides: str) -> dict[str, str]:
    production = {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "payments.example.com",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://payments.example.com",
        "DJANGO_HTTPS": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "CACHE_URL": "redis://127.0.0.1:6379/1",
        "SIMULATORS_ENABLED": "false",
    }
    return project_environment(**{**production, **overrides})


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    done = check_deploy(production_environment(tmp_path))

    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"SIMULATORS_ENABLED": "true"}, "core.E001"),
        ({"DJANGO_HTTPS": "false"}, "core.E002"),
        ({"DJANGO_DEBUG": "true"}, "security.W018"),
    ],
)
def test_check_deploy_fails_on_what_must_not_reach_production(tmp_path, overrides, problem):
    done = check_deploy(production_environment(tmp_path, **overrides))

    assert done.returncode != 0
    assert problem in done.stdout + done.stderr
