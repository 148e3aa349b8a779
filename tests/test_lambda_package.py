"""The zappa (AWS Lambda) package serves (issue 25, 2): built as docs/deploy.md says (a
virtualenv of requirements-lambda.txt, the static files collected, the translations compiled,
`zappa package production`), unzipped into a folder nobody may write to, and started the way
Lambda starts it: zappa's handler, an API Gateway event, Debian's Python 3.11, as the user
`nobody`, its secrets read from Secrets Manager (moto), PyMySQL to MariaDB."""

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from core.checks import GATEWAY_SECRETS
from tests.aws import secret_set
from tests.certificates import ca_bundle
from tests.factories import UserFactory
from tests.processes import ROOT, committed_code, make_read_only

pytestmark = [
    pytest.mark.mysql,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs the function as nobody: needs root"),
    pytest.mark.skipif(not Path("/usr/bin/python3.11").exists(), reason="needs Python 3.11"),
]

# Lambda's Python: the runtime is python3.11 (zappa_settings.json); Debian's stands in for it.
LAMBDA_PYTHON = "/usr/bin/python3.11"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
STAGE = json.loads((ROOT / "zappa_settings.json").read_text())["production"]

# Lambda calls handler.lambda_handler(event, context) in the package's folder.
INVOKE = """
import json, sys
sys.path.insert(0, ".")
from handler import lambda_handler

class Context:
    aws_request_id = "test-request"
    function_name = "payment-service-production"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:ap-northeast-1:123456789012:function:payment-service"
    def get_remaining_time_in_millis(self):
        return 30000

answer = lambda_handler(json.loads(sys.argv[1]), Context())
print(json.dumps({"statusCode": answer["statusCode"], "body": answer["body"]}))
"""


def api_gateway_event(path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A REST API (v1) proxy event, as API Gateway sends zappa's function one."""
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": "GET",
        "headers": {
            "Host": "payments.example.com",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "203.0.113.9",
            **(headers or {}),
        },
        "multiValueHeaders": None,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "body": None,
        "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": "GET",
            "path": f"/production{path}",
            "stage": "production",
            "identity": {"sourceIp": "203.0.113.9"},
        },
    }


def run(command: list[str | Path], **kwargs: Any) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Iterator[Path]:
    """The package, unzipped where Lambda would (read-only, readable by everyone)."""
    build = committed_code(tmp_path_factory.mktemp("lambda-build") / "project")
    venv = build.parent / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    run([venv / "bin/pip", "install", "-q", "--disable-pip-version-check",
         "-r", "requirements-lambda.txt"], cwd=build)  # fmt: skip
    tools = {
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "VIRTUAL_ENV": str(venv),
        "DJANGO_ENV_FILE": "",
        "DJANGO_SECRET_KEY": "build-only",
        "DJANGO_STATIC_ROOT": "staticfiles",
        # zappa packages offline; it only wants a region and credentials to exist.
        "AWS_DEFAULT_REGION": STAGE["aws_region"],
        "AWS_ACCESS_KEY_ID": "build-only",
        "AWS_SECRET_ACCESS_KEY": "build-only",
        "HOME": str(build.parent),
    }
    # The RDS CA bundle, fetched as the build fetches it: checked against a pinned digest. A CA
    # of the test's stands in for AWS's, which this machine cannot reach.
    bundle = ca_bundle(build.parent, "Amazon RDS Root CA stand-in")
    (build.parent / "served.pem").write_bytes(bundle)
    run(
        [venv / "bin/python", "deploy/rds_ca.py", "fetch", "--sha256", sha256(bundle).hexdigest()],
        cwd=build,
        env={**tools, "RDS_CA_BUNDLE_URL": (build.parent / "served.pem").as_uri()},
    )
    run(
        [venv / "bin/python", "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=build,
        env=tools,
    )
    run([venv / "bin/python", "manage.py", "compilemessages", "-v0"], cwd=build, env=tools)
    run([venv / "bin/zappa", "package", "production", "-o", "package.zip"], cwd=build, env=tools)

    # Where nobody can write and everybody can read: Lambda's /var/task.
    task = Path(tempfile.mkdtemp(prefix="lambda-task-"))
    task.chmod(0o755)
    with zipfile.ZipFile(build / "package.zip") as archive:
        archive.extractall(task)
    for path in [task, *task.rglob("*")]:
        path.chmod(path.stat().st_mode | (0o555 if path.is_dir() else 0o444))
    make_read_only(task)
    yield task
    for path in [task, *task.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    shutil.rmtree(task)


@pytest.fixture
def function_environment(aws, moto_url) -> dict[str, str]:
    """The function's environment as Lambda gives it: zappa's variables, its secret in Secrets
    Manager (moto), this tier's MariaDB and Redis in place of RDS and SQS."""
    database = connection.settings_dict
    secret = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": f"mysql://{database['USER']}@{database['HOST']}:{database['PORT']}/"
        f"{database['NAME']}",
        "DATABASE_PASSWORD": database["PASSWORD"],
        "ECPAY_MERCHANT_ID": "3458721",
        **{
            name: secrets.token_urlsafe(24)
            for name in GATEWAY_SECRETS
            if name != "ECPAY_MERCHANT_ID"
        },
    }
    variables = STAGE["aws_environment_variables"]
    secret_set(aws("secretsmanager"), variables["SECRETS_MANAGER_SECRET_IDS"], secret)
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": "/nonexistent",
        **variables,
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
        "AWS_REGION": STAGE["aws_region"],
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


def invoke(package: Path, env: dict[str, str], event: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [*NOBODY, LAMBDA_PYTHON, "-c", INVOKE, json.dumps(event)],
        cwd=package,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


@pytest.mark.django_db(transaction=True)
def test_the_lambda_package_serves_an_api_request_from_the_database(package, function_environment):
    customer = UserFactory.create()
    token = Token.objects.create(user=customer)
    # This tier's MariaDB speaks plain text (tests/test_database_tls.py has PyMySQL verify one
    # that speaks TLS): the requests that reach it go without the package's RDS bundle. The
    # liveness check keeps it: the function starts only if its start-up deploy checks find the
    # bundle the package carries (core.E014).
    plain = {**function_environment, "DATABASE_TLS_CA": ""}

    alive = invoke(package, function_environment, api_gateway_event("/healthz"))
    listed = invoke(
        package,
        plain,
        api_gateway_event("/api/v1/payments/", {"Authorization": f"Token {token.key}"}),
    )
    refused = invoke(package, plain, api_gateway_event("/api/v1/payments/"))
    page = invoke(package, plain, api_gateway_event("/accounts/login/"))

    assert alive == {"statusCode": 200, "body": '{"status": "ok"}'}
    assert listed["statusCode"] == 200, listed
    assert json.loads(listed["body"])["results"] == []
    assert refused["statusCode"] == 401
    # Its pages link their stylesheet, which the package carries (WhiteNoise serves it).
    assert page["statusCode"] == 200
    stylesheet = invoke(package, plain, api_gateway_event("/static/css/site.css"))
    assert stylesheet["statusCode"] == 200
    # Nothing was written beside the code: Lambda's folder is read-only.
    assert not (package / "var").exists()


def test_the_package_holds_no_secret_test_or_development_file(package):
    for absent in (".env", "tests", "docs", "bench", "deploy", "var", ".venv"):
        assert not (package / absent).exists(), absent
    assert (package / "staticfiles" / "css" / "site.css").is_file()
    assert (package / "locale" / "zh_Hant" / "LC_MESSAGES" / "django.mo").is_file()
    assert (package / STAGE["aws_environment_variables"]["DATABASE_TLS_CA"]).is_file()
    # Only the project's own: a library's folder of the same name stays.
    assert (package / "botocore" / "docs").is_dir()
