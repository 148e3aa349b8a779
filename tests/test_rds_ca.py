"""deploy/rds_ca.py: the RDS CA bundle reaches the image and the Lambda package only when its
SHA-256 is the pinned one. The script runs as the Docker build and the packaging run it (a
process of its own, from a copy of deploy/ so that pinning writes there), against a web server
of the test's serving a CA bundle made here in AWS's place."""

import hashlib
import http.server
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.certificates import ca_bundle
from tests.processes import PYTHON, ROOT


class Served:
    """What the stand-in for truststore.pki.rds.amazonaws.com answers."""

    body = b""


@pytest.fixture
def served() -> Iterator[tuple[type[Served], str]]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(Served.body)))
            self.end_headers()
            self.wfile.write(Served.body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Served, f"http://127.0.0.1:{server.server_port}/global/global-bundle.pem"
    server.shutdown()
    server.server_close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the script where the repository keeps it: deploy/, beside the project root."""
    (tmp_path / "deploy").mkdir()
    shutil.copy(ROOT / "deploy" / "rds_ca.py", tmp_path / "deploy" / "rds_ca.py")
    return tmp_path


def rds_ca(project: Path, url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, project / "deploy" / "rds_ca.py", *args],
        env={"PATH": "/usr/bin:/bin", "RDS_CA_BUNDLE_URL": url, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_pinned_bundle_is_written_readable_by_everyone(project, served, tmp_path):
    server, url = served
    server.body = ca_bundle(
        tmp_path, "Amazon RDS ap-northeast-1 Root CA", "Amazon RDS Root 2019 CA"
    )
    digest = hashlib.sha256(server.body).hexdigest()
    (project / "deploy" / "rds-ca-bundle.sha256").write_text(f"{digest}  global-bundle.pem\n")

    done = rds_ca(project, url, "fetch")

    written = project / "rds-ca" / "global-bundle.pem"
    assert done.returncode == 0, done.stderr
    assert "2 CA certificates" in done.stdout
    assert written.read_bytes() == server.body
    assert written.stat().st_mode & 0o777 == 0o644


def test_a_bundle_that_is_not_the_pinned_one_is_refused_and_nothing_is_written(
    project, served, tmp_path
):
    server, url = served
    pinned = ca_bundle(tmp_path, "Amazon RDS Root CA")
    # Whoever answers in AWS's place serves a bundle with a CA of their own added.
    server.body = pinned + ca_bundle(tmp_path, "Not Amazon")
    digest = hashlib.sha256(pinned).hexdigest()

    done = rds_ca(project, url, "fetch", "--sha256", digest)

    assert done.returncode == 1
    assert hashlib.sha256(server.body).hexdigest() in done.stderr
    assert f"not the pinned {digest}" in done.stderr
    assert not (project / "rds-ca").exists()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<html>Service Unavailable</html>", id="an error page"),
        pytest.param(b"", id="nothing"),
        pytest.param(b"\xff\xfe not text", id="bytes"),
    ],
)
def test_what_is_not_a_ca_bundle_is_refused_even_with_its_digest_pinned(project, served, body):
    server, url = served
    server.body = body

    done = rds_ca(project, url, "fetch", RDS_CA_BUNDLE_SHA256=hashlib.sha256(body).hexdigest())

    assert done.returncode == 1
    assert "not a PEM bundle" in done.stderr or "no CA certificate" in done.stderr
    assert not (project / "rds-ca").exists()


def test_a_response_far_larger_than_a_bundle_is_refused(project, served):
    server, url = served
    server.body = b"A" * (3 * 1024 * 1024)

    done = rds_ca(project, url, "fetch", "--sha256", hashlib.sha256(server.body).hexdigest())

    assert done.returncode == 1
    assert "not a CA bundle" in done.stderr


def test_without_a_pinned_digest_nothing_is_fetched_and_the_message_says_how_to_pin(
    project, served
):
    server, url = served
    server.body = b"never asked for"

    done = rds_ca(project, url, "fetch")

    assert done.returncode == 1
    assert "no SHA-256 pinned" in done.stderr
    assert "deploy/rds_ca.py pin" in done.stderr


def test_an_unreachable_truststore_is_a_clear_refusal(project):
    done = rds_ca(project, "http://127.0.0.1:9/global-bundle.pem", "fetch", "--sha256", "0" * 64)

    assert done.returncode == 1
    assert "could not fetch" in done.stderr
    assert "Traceback" not in done.stderr


def test_pin_records_the_digest_the_next_fetch_checks_and_lists_the_certificates(
    project, served, tmp_path
):
    server, url = served
    server.body = ca_bundle(tmp_path, "Amazon RDS eu-west-1 Root CA")

    pinned = rds_ca(project, url, "pin")
    fetched = rds_ca(project, url, "fetch")

    assert pinned.returncode == 0, pinned.stderr
    assert "Amazon RDS eu-west-1 Root CA, until" in pinned.stdout
    recorded = (project / "deploy" / "rds-ca-bundle.sha256").read_text()
    assert recorded.startswith(hashlib.sha256(server.body).hexdigest() + "  global-bundle.pem")
    assert fetched.returncode == 0, fetched.stderr
