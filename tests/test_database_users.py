"""The services connect as a database user with rights to rows only (`manage.py database_users`,
run by the migrate task as the owner): the service's own tests pass as that user, and what only
the owner may do (change the schema, make users, read another database) is refused to it."""

import secrets
import subprocess
from collections.abc import Iterator
from typing import Any

import MySQLdb  # type: ignore[import-untyped]
import pytest
from django.conf import settings
from django.db import connection

from tests.processes import PYTHON, ROOT, project_environment

pytestmark = pytest.mark.mysql

APP_USER = "payments_app_test"
# MySQL's "command denied" (a privilege the user lacks) and "access denied" (a password).
COMMAND_DENIED, DATABASE_DENIED, ACCESS_DENIED = 1142, 1044, 1045
# Tests that write, lock and move money through the services, transactional ones among them
# (their clean-up is DELETE, not TRUNCATE: Django truncates only to reset sequences).
SERVICE_TESTS = [
    "tests/payments/test_money_moves_once.py",
    "tests/payments/test_one_payment_per_order.py",
    "tests/payments/test_card_pipeline.py",
    "tests/payments/test_ecpay_notifications.py",
    "tests/payments/test_wallet_callbacks.py",
    "tests/payments/test_ledger.py",
    "tests/core/test_idempotency.py",
    "tests/accounts/test_sign_in_lockout.py",
]


# RDS's master user's stand-in (bin/lib.sh makes it): every privilege, to grant too.
OWNER, OWNER_PASSWORD = "payments_owner", "payments_owner"


def owner_url() -> str:
    """The test database, as its owner."""
    database = connection.settings_dict
    return (
        f"mysql://{OWNER}:{OWNER_PASSWORD}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    )


def as_owner(statement: str) -> None:
    database = connection.settings_dict
    with MySQLdb.connect(
        host=database["HOST"], port=int(database["PORT"]), user=OWNER, passwd=OWNER_PASSWORD
    ) as owner:
        owner.cursor().execute(statement)


def database_users(password: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "manage.py", "database_users", "--host", "127.0.0.1", *args],
        cwd=ROOT,
        env=project_environment(
            DATABASE_URL=owner_url(), DATABASE_APP_USER=APP_USER, DATABASE_APP_PASSWORD=password
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )


def app_connection(password: str) -> Any:
    database = connection.settings_dict
    return MySQLdb.connect(
        host=database["HOST"],
        port=int(database["PORT"]),
        user=APP_USER,
        passwd=password,
        db=database["NAME"],
    )


def refusal(cursor: Any, statement: str) -> int:
    with pytest.raises(MySQLdb.MySQLError) as refused:
        cursor.execute(statement)
    code: int = refused.value.args[0]
    return code


@pytest.fixture
def app_password(transactional_db) -> Iterator[str]:
    """The services' user, made by the command as the migrate task makes it; dropped after."""
    password = secrets.token_urlsafe(24)
    made = database_users(password)
    assert made.returncode == 0, made.stderr
    assert f"{APP_USER}@127.0.0.1: SELECT, INSERT, UPDATE, DELETE on" in made.stdout
    yield password
    as_owner(f"DROP USER IF EXISTS '{APP_USER}'@'127.0.0.1'")


def test_the_services_tests_pass_as_the_rows_only_user(app_password):
    database = connection.settings_dict
    done = subprocess.run(
        [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *SERVICE_TESTS],
        cwd=ROOT,
        env=project_environment(
            DJANGO_SETTINGS_MODULE="tests.settings",
            CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
            TESTS_DATABASE_AS_IS="1",
            DATABASE_URL=f"mysql://{APP_USER}@{database['HOST']}:{database['PORT']}/"
            f"{database['NAME']}",
            DATABASE_PASSWORD=app_password,
        ),
        capture_output=True,
        text=True,
        timeout=900,
    )

    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
    assert " passed" in done.stdout.splitlines()[-1]


def test_what_only_the_owner_may_do_is_refused(app_password):
    with app_connection(app_password) as app:
        cursor = app.cursor()
        cursor.execute("SELECT COUNT(*) FROM payments_payment")

        assert refusal(cursor, "CREATE TABLE stolen (id INT)") == COMMAND_DENIED
        assert refusal(cursor, "DROP TABLE payments_ledgerentry") == COMMAND_DENIED
        assert refusal(cursor, "ALTER TABLE payments_payment ADD COLUMN x INT") == COMMAND_DENIED
        assert refusal(cursor, "TRUNCATE TABLE payments_payment") == COMMAND_DENIED
        assert refusal(cursor, "SELECT * FROM mysql.user") == COMMAND_DENIED
        assert refusal(cursor, "CREATE USER 'second'@'%' IDENTIFIED BY 'x'") in (
            DATABASE_DENIED,
            1227,  # "you need (at least one of) the CREATE USER privilege(s)"
        )


def test_rerunning_rotates_the_password_and_takes_back_what_someone_added(app_password):
    database = connection.settings_dict["NAME"]
    as_owner(f"GRANT ALL PRIVILEGES ON `{database}`.* TO '{APP_USER}'@'127.0.0.1'")
    as_owner(f"GRANT SELECT ON mysql.* TO '{APP_USER}'@'127.0.0.1'")
    rotated = secrets.token_urlsafe(24)

    done = database_users(rotated)

    assert done.returncode == 0, done.stderr
    with pytest.raises(MySQLdb.OperationalError) as old:
        app_connection(app_password)
    assert old.value.args[0] == ACCESS_DENIED
    with app_connection(rotated) as app:
        assert refusal(app.cursor(), "CREATE TABLE stolen (id INT)") == COMMAND_DENIED
        assert refusal(app.cursor(), "SELECT * FROM mysql.user") == COMMAND_DENIED


@pytest.mark.parametrize(
    ("user", "password", "message"),
    [
        ("payments_app_test", "short", "at least 20 characters"),
        ("app'; DROP DATABASE x; --", "a" * 24, "letters, digits or underscores"),
    ],
)
def test_a_password_too_short_or_a_name_that_needs_quoting_is_refused(
    transactional_db, user, password, message
):
    done = subprocess.run(
        [PYTHON, "manage.py", "database_users"],
        cwd=ROOT,
        env=project_environment(
            DATABASE_URL=owner_url(), DATABASE_APP_USER=user, DATABASE_APP_PASSWORD=password
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 1
    assert message in done.stderr
