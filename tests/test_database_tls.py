"""TLS to the database (DATABASE_TLS_CA), against a MariaDB with TLS that the test starts.

A server of our own (a fresh data folder, a CA and a server certificate made here), because the
project's MariaDB serves plain text: it plays the server without TLS. Each case runs Django in a
process of its own with the production settings' database options.
"""

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import MySQLdb  # type: ignore[import-untyped]
import pytest
from django.db import connection

from tests.processes import PYTHON, ROOT, free_port, project_environment, running

pytestmark = [
    pytest.mark.mysql,
    pytest.mark.skipif(shutil.which("mariadbd") is None, reason="needs the MariaDB server"),
]

SHOW_CIPHER = (
    "import MySQLdb; print(MySQLdb.__name__.replace('MySQLdb', 'mysqlclient')); "
    "from django.db import connection; cursor = connection.cursor(); "
    "cursor.execute(\"SHOW STATUS LIKE 'Ssl_cipher'\"); print(cursor.fetchone()[1] or 'none')"
)


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A MariaDB serving TLS with a certificate for 127.0.0.1; yields its port and its CA."""
    folder = tmp_path_factory.mktemp("tls-mariadb")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=Test CA",
            "-keyout", "ca-key.pem", "-out", "ca.pem", cwd=folder)  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server-key.pem", "-out", "server.csr", cwd=folder)  # fmt: skip
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
            "-CAcreateserial", "-days", "1", "-extfile", "san.cnf", "-out", "server.pem",
            cwd=folder)  # fmt: skip
    subprocess.run(
        ["mariadb-install-db", "--no-defaults", f"--datadir={folder / 'data'}", "--user=root",
         "--auth-root-authentication-method=normal", "--skip-test-db"],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()

    def answers() -> bool:
        try:
            MySQLdb.connect(host="127.0.0.1", port=port, user="root", passwd="").close()
        except MySQLdb.OperationalError:
            return False
        return True

    with running(
        ["mariadbd", "--no-defaults", f"--datadir={folder / 'data'}", f"--port={port}",
         "--bind-address=127.0.0.1", f"--socket={folder / 'mariadb.sock'}", "--user=root",
         f"--ssl-ca={folder / 'ca.pem'}", f"--ssl-cert={folder / 'server.pem'}",
         f"--ssl-key={folder / 'server-key.pem'}"],
        env=project_environment(),
        log=folder / "mariadb.log",
        ready=answers,
    ):  # fmt: skip
        yield port, folder / "ca.pem"


# Each case with each driver: mysqlclient (the image's) and PyMySQL (Lambda's, DATABASE_DRIVER).
DRIVERS = ["mysqlclient", "pymysql"]
# How each driver says the server does not speak TLS, and that its certificate is not trusted.
NO_TLS = {
    "mysqlclient": "SSL is required, but the server does not support it",
    "pymysql": "SSL is required but the server doesn't support it",
}
UNTRUSTED = {"mysqlclient": "TLS/SSL error", "pymysql": "CERTIFICATE_VERIFY_FAILED"}


def run_django(*, database_url: str, ca: Path, driver: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", SHOW_CIPHER],
        cwd=ROOT,
        env=project_environment(
            DATABASE_URL=database_url, DATABASE_TLS_CA=str(ca), DATABASE_DRIVER=driver
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("driver", DRIVERS)
def test_with_the_servers_ca_the_connection_is_encrypted(tls_server, driver):
    port, ca = tls_server

    done = run_django(database_url=f"mysql://root@127.0.0.1:{port}/mysql", ca=ca, driver=driver)

    assert done.returncode == 0, done.stderr
    *_, spoken_by, cipher = done.stdout.splitlines()
    assert spoken_by == driver
    assert cipher.startswith("TLS_")


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_server_without_tls_is_refused_never_spoken_to_in_plain_text(tls_server, driver):
    _, ca = tls_server
    plain = connection.settings_dict  # the project's MariaDB serves no TLS

    done = run_django(
        database_url=(
            f"mysql://{plain['USER']}:{plain['PASSWORD']}@{plain['HOST']}:{plain['PORT']}/"
            f"{plain['NAME']}"
        ),
        ca=ca,
        driver=driver,
    )

    assert done.returncode != 0
    assert NO_TLS[driver] in done.stderr


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_server_whose_certificate_another_ca_signed_is_refused(tls_server, tmp_path, driver):
    port, _ = tls_server
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=Other",
            "-keyout", "other-key.pem", "-out", "other.pem", cwd=tmp_path)  # fmt: skip

    done = run_django(
        database_url=f"mysql://root@127.0.0.1:{port}/mysql",
        ca=tmp_path / "other.pem",
        driver=driver,
    )

    assert done.returncode != 0
    assert UNTRUSTED[driver] in done.stderr
