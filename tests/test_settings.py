import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def start_django(script: str = "", **variables: str) -> subprocess.CompletedProcess[str]:
    """Start Django with the real settings and only the given variables, then run `script`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DJANGO_ENV_FILE="", **variables)
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_a_secret_key_the_application_refuses_to_start():
    started = start_django()

    assert started.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in started.stderr


def test_debug_is_off_unless_asked_for():
    shown = start_django(
        "from django.conf import settings; print(settings.DEBUG)", DJANGO_SECRET_KEY="x"
    )
    assert shown.stdout.strip() == "False"


@pytest.mark.mysql
@pytest.mark.django_db
def test_mysql_sessions_are_utf8mb4_strict_and_read_committed():
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@character_set_connection, @@sql_mode, @@tx_isolation")
        charset, sql_mode, isolation = cursor.fetchone()

    assert charset == "utf8mb4"
    assert "STRICT_ALL_TABLES" in sql_mode
    assert isolation == "READ-COMMITTED"


def test_the_database_password_may_come_apart_from_the_url():
    shown = start_django(
        "from django.conf import settings; d = settings.DATABASES['default'];"
        "print(d['USER'], d['PASSWORD'], d['HOST'])",
        DJANGO_SECRET_KEY="x",
        DATABASE_URL="mysql://payments@db.payments.internal:3306/payments",
        DATABASE_PASSWORD="p@ss:w/rd?#",
    )
    assert shown.stdout.split() == ["payments", "p@ss:w/rd?#", "db.payments.internal"]


@pytest.mark.mysql
def test_with_the_password_apart_the_service_connects_to_mariadb():
    settings = connection.settings_dict
    shown = start_django(
        "from django.db import connection; connection.ensure_connection(); print('connected')",
        DJANGO_SECRET_KEY="x",
        DATABASE_URL=f"mysql://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/"
        f"{settings['NAME']}",
        DATABASE_PASSWORD=settings["PASSWORD"],
    )
    assert shown.stdout.strip() == "connected", shown.stderr
