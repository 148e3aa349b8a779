"""The deployment files (Dockerfile, docker-compose.yml, zappa_settings.json, docs/) name things
that exist, and the image's web server, started the way the image starts it, serves the app.

Docker is not run here: what can be checked without it is that every command the files give
would find its program, its manage.py command, its Celery app and its configuration.
"""

import importlib.util
import json
import re
import shlex
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import yaml
from celery.bin.celery import celery as celery_command
from django.core.management import get_commands

from config.celery import app as celery_app
from tests.processes import (
    PYTHON,
    ROOT,
    answers,
    free_port,
    manage,
    project_environment,
    running,
    wait_for,
)

IMAGE = "payment-service:local"
# Where the Dockerfile puts the code: paths in its commands are relative to it.
IMAGE_ROOT = "/app"
PRODUCTION_HOST = "payments.example.com"
# Variables that hold secrets: never written into a file that is committed.
SECRETS = {
    "DJANGO_SECRET_KEY",
    "DATABASE_URL",
    "CARD_PROVIDER_API_KEY",
    "ECPAY_HASH_KEY",
    "ECPAY_HASH_IV",
    "WALLET_CALLBACK_SECRET",
    "BANK_APP_CALLBACK_SECRET",
}


def compose_services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())[
        "services"
    ]
    return services


def app_services() -> dict[str, dict[str, Any]]:
    """The services that run our image (the others are MySQL and Redis)."""
    return {name: s for name, s in compose_services().items() if s.get("image") == IMAGE}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of each Dockerfile line, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def exec_form(arguments: str) -> list[str]:
    """A CMD's arguments: the JSON exec form (what the Dockerfile uses), or a shell line."""
    if arguments.startswith("["):
        command: list[str] = json.loads(arguments)
        return command
    return shlex.split(arguments)


def assert_runs_something_real(command: list[str]) -> None:
    """`command` starts a manage.py command that exists, our Celery app, or gunicorn with a
    configuration file and a WSGI module that exist."""
    program, *arguments = command
    if program == "python":
        assert arguments[0] in ("manage.py", f"{IMAGE_ROOT}/manage.py"), command
        assert arguments[1] in get_commands(), f"no manage.py command {arguments[1]!r}"
    elif program == "celery":
        assert arguments[:2] == ["-A", "config"], command
        assert arguments[2] in celery_command.commands, f"no celery command {arguments[2]!r}"
    elif program == "gunicorn":
        config = arguments[arguments.index("-c") + 1]
        assert (ROOT / config).is_file(), f"no gunicorn configuration {config}"
        module, _, attribute = arguments[-1].partition(":")
        assert importlib.util.find_spec(module) is not None, f"no module {module}"
        assert hasattr(importlib.import_module(module), attribute or "application")
    else:
        pytest.fail(f"{command} runs {program!r}, which the image does not provide")


# --- docker-compose.yml ---------------------------------------------------------------------


def test_every_service_of_the_compose_stack_runs_a_real_command():
    services = app_services()

    assert {"migrate", "web", "worker", "beat"} <= set(services)
    for name, service in services.items():
        assert service["env_file"] == "deploy/compose.env", name
        assert_runs_something_real(service["command"])
    assert (ROOT / "deploy/compose.env").is_file()


def test_the_compose_stack_migrates_once_before_anything_serves():
    services = compose_services()

    assert services["migrate"]["command"][-2:] == ["migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["mysql"]["condition"] == "service_healthy"
    assert "healthcheck" in services["mysql"]
    for name in ("web", "worker", "beat"):
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully", name


def test_the_compose_worker_consumes_every_queue_a_task_is_routed_to():
    worker = compose_services()["worker"]["command"]
    consumed = set(worker[worker.index("-Q") + 1].split(","))
    celery_app.loader.import_default_modules()
    ours = [name for name in celery_app.tasks if not name.startswith("celery.")]

    routed = {celery_app.amqp.router.route({}, name)["queue"].name for name in ours}

    assert ours
    assert routed <= consumed, f"no worker consumes {routed - consumed}"
    assert consumed == {queue.name for queue in celery_app.conf.task_queues}


def test_the_compose_stack_skips_the_deploy_check_that_its_local_values_fail():
    env_file = (ROOT / "deploy/compose.env").read_text()
    compose_env = dict(
        line.split("=", 1) for line in env_file.splitlines() if line and not line.startswith("#")
    )

    for name, service in app_services().items():
        assert service["entrypoint"] == [], name
    done = subprocess.run(
        [PYTHON, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        cwd=ROOT,
        env=project_environment(**compose_env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "core.E001" in done.stderr  # the simulators, on purpose


def test_the_compose_stack_has_exactly_one_beat():
    beats = [name for name, service in app_services().items() if "beat" in service["command"][:4]]

    assert beats == ["beat"]
    assert all("--beat" not in service["command"] for service in app_services().values())


# --- Dockerfile and .dockerignore --------------------------------------------------------------


def test_the_image_starts_gunicorn_with_its_configuration_through_the_deploy_check():
    instructions = dockerfile_instructions()
    commands = [arguments for keyword, arguments in instructions if keyword == "CMD"]
    entrypoints = [arguments for keyword, arguments in instructions if keyword == "ENTRYPOINT"]

    assert exec_form(commands[-1]) == ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]
    assert_runs_something_real(exec_form(commands[-1]))
    # Exec form: the script gets the command as its arguments (a shell form would drop them).
    assert json.loads(entrypoints[-1]) == [f"{IMAGE_ROOT}/deploy/entrypoint.sh"]
    script = ROOT / "deploy/entrypoint.sh"
    assert script.stat().st_mode & 0o111, "the entrypoint is not executable"
    assert not ignored_by_docker("deploy/entrypoint.sh")


def test_the_image_runs_as_a_user_that_is_not_root_in_a_slim_runtime_stage():
    instructions = dockerfile_instructions()
    stages = [arguments for keyword, arguments in instructions if keyword == "FROM"]
    runtime = max(n for n, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    users = [arguments for keyword, arguments in instructions[runtime:] if keyword == "USER"]
    base = next(arguments for keyword, arguments in instructions if keyword == "ARG")

    assert len(stages) == 2
    assert stages[0].endswith(" AS builder")
    assert "python:3.11-slim" in base
    assert users
    assert users[-1].split(":")[0] not in ("root", "0")


def test_the_image_health_check_runs_a_script_the_image_contains():
    healthcheck = next(a for keyword, a in dockerfile_instructions() if keyword == "HEALTHCHECK")
    command = exec_form(healthcheck[healthcheck.index("CMD") + len("CMD") :].strip())

    assert command[0] == "python"
    script = command[1].removeprefix(f"{IMAGE_ROOT}/")
    assert (ROOT / script).is_file()
    assert not ignored_by_docker(script)


def ignored_by_docker(path: str) -> bool:
    """Whether .dockerignore leaves `path` (or a folder above it) out of the build context."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = Path(path).parts
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!")
        if any(fnmatch(candidate, pattern) for candidate in candidates):
            ignored = not negated
    return ignored


@pytest.mark.parametrize(
    "path",
    [
        "manage.py",
        "requirements.txt",
        "config/gunicorn.py",
        "config/settings.py",
        "deploy/healthcheck.py",
        "locale/zh_Hant/LC_MESSAGES/django.po",
        "templates/base.html",
    ],
)
def test_the_build_context_keeps_what_the_image_needs(path):
    assert (ROOT / path).is_file()
    assert not ignored_by_docker(path)


@pytest.mark.parametrize("path", [".env", ".venv/bin/python", "var/db.sqlite3", ".git/HEAD"])
def test_the_build_context_leaves_out_local_state_and_secrets(path):
    assert ignored_by_docker(path)


# --- zappa_settings.json ---------------------------------------------------------------------


def settings_variables() -> set[str]:
    """Every environment variable config/settings.py reads."""
    source = (ROOT / "config/settings.py").read_text()
    return set(re.findall(r"env(?:\.[a-z_]+)?\(\s*\"([A-Z][A-Z0-9_]*)\"", source))


def test_zappa_runs_the_django_settings_on_python_3_11_in_the_vpc():
    stage = json.loads((ROOT / "zappa_settings.json").read_text())["production"]

    assert stage["django_settings"] == "config.settings"
    assert importlib.util.find_spec(stage["django_settings"]) is not None
    assert stage["runtime"] == "python3.11"
    assert stage["keep_warm"] is True
    assert stage["vpc_config"]["SubnetIds"]
    assert stage["vpc_config"]["SecurityGroupIds"]
    assert 0 < stage["timeout_seconds"] <= 30  # API Gateway gives up at 29 s anyway


def test_zappa_sets_production_values_and_takes_secrets_from_elsewhere():
    stage = json.loads((ROOT / "zappa_settings.json").read_text())["production"]
    variables = stage["aws_environment_variables"]

    assert set(variables) <= settings_variables(), set(variables) - settings_variables()
    assert not set(variables) & SECRETS
    assert not set(stage.get("environment_variables", {})) & SECRETS
    # Secrets are read from Secrets Manager when the function starts, never copied to S3.
    assert "remote_env" not in stage
    assert variables["SECRETS_MANAGER_SECRET_IDS"]
    # zappa's own debug would send every uncaught error's traceback to the client.
    assert stage["debug"] is False
    assert variables["DJANGO_DEBUG"] == "false"
    # No MySQL client library on Lambda: the pure-Python driver.
    assert variables["DATABASE_DRIVER"] == "pymysql"
    # Lambda runs no entrypoint: the app checks its settings as it loads instead.
    assert variables["DJANGO_DEPLOY_CHECK_ON_START"] == "true"
    assert variables["SIMULATORS_ENABLED"] == "false"
    assert variables["DJANGO_HTTPS"] == "true"
    assert variables["CELERY_BROKER_URL"].startswith("sqs://")


# --- docs/ -----------------------------------------------------------------------------------


def test_the_iam_policy_is_a_policy_document_without_wildcard_actions():
    policy = json.loads((ROOT / "docs/iam-policy.json").read_text())

    assert policy["Version"] == "2012-10-17"
    assert policy["Statement"]
    for statement in policy["Statement"]:
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        assert statement["Effect"] in ("Allow", "Deny")
        assert actions
        assert all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z]+", action) for action in actions), actions
        assert resources
        assert all(resource.startswith("arn:aws:") for resource in resources), resources


def test_the_deployment_guide_names_every_variable_the_settings_read():
    guide = (ROOT / "docs/deploy.md").read_text()

    missing = {name for name in settings_variables() if f"`{name}`" not in guide}

    assert not missing, f"docs/deploy.md does not describe {sorted(missing)}"
    assert "iam-policy.json" in guide


# --- gunicorn, as the image starts it --------------------------------------------------------


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """gunicorn with config/gunicorn.py and production settings, on a migrated database of its
    own: (base URL, its log, its environment)."""
    folder = tmp_path_factory.mktemp("gunicorn")
    port = free_port()
    env = project_environment(
        PORT=str(port),
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="2",
        DJANGO_DEBUG="false",
        DJANGO_ALLOWED_HOSTS=f"{PRODUCTION_HOST},localhost",
        DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}",
        CELERY_BROKER_URL="filesystem://localhost/",
        CELERY_FILESYSTEM_BROKER_DIR=str(folder / "broker"),
        SIMULATORS_ENABLED="false",
    )
    manage("migrate", "--noinput", env=env)
    base = f"http://127.0.0.1:{port}"
    log = folder / "gunicorn.log"
    with running(
        [PYTHON, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi"],
        env=env,
        log=log,
        ready=lambda: answers(f"{base}/healthz"),
    ):
        yield base, log, env


def get(
    url: str, host: str = PRODUCTION_HOST, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) of a GET; the body is {} when it is not JSON (Django's 400 page)."""
    request = urllib.request.Request(url, headers={"Host": host, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read())
        except ValueError:
            return error.code, {}


def test_gunicorn_serves_liveness_and_readiness(web):
    base, _, _ = web

    assert get(f"{base}/healthz") == (200, {"status": "ok"})
    status, body = get(f"{base}/readyz")
    assert status == 200, body
    assert body["status"] == "ok"


def test_gunicorn_writes_each_request_as_one_json_line_without_its_query_string(web):
    base, log, _ = web

    request_id = f"deploy-test-{free_port()}"

    get(f"{base}/healthz?token=not-for-the-log", headers={"X-Request-ID": request_id})

    def access_line() -> dict[str, Any] | None:
        # gunicorn writes the line once the answer has gone: it may come a moment later.
        for line in log.read_text().splitlines():
            if line.startswith("{") and json.loads(line).get("request_id") == request_id:
                return dict(json.loads(line))
        return None

    wait_for(lambda: access_line() is not None, timeout=10, what="the access log line")
    line = access_line()
    assert line is not None
    expected = {"logger": "gunicorn.access", "method": "GET", "path": "/healthz", "status": 200}
    assert expected.items() <= line.items()
    assert isinstance(line["duration_ms"], int)
    assert "not-for-the-log" not in log.read_text()


def test_an_enrolment_link_s_token_stays_out_of_the_access_log(web):
    base, log, _ = web
    token = f"enrolment-token-{free_port()}"

    request = urllib.request.Request(
        f"{base}/admin/two-factor/enrol/{token}/", headers={"Host": PRODUCTION_HOST}
    )
    with urllib.request.urlopen(request, timeout=10) as page:  # to the sign-in page
        assert page.status == 200

    redacted = "/two-factor/enrol/[REDACTED]/"
    wait_for(lambda: redacted in log.read_text(), timeout=10, what="the access line")
    assert token not in log.read_text()


def test_the_image_health_check_passes_while_gunicorn_answers_and_fails_when_it_does_not(web):
    _, _, env = web

    def healthcheck(port: str) -> int:
        return subprocess.run(
            [PYTHON, "deploy/healthcheck.py"],
            cwd=ROOT,
            env={**env, "PORT": port},
            capture_output=True,
            timeout=30,
        ).returncode

    assert healthcheck(env["PORT"]) == 0
    assert healthcheck(str(free_port())) == 1


def test_health_checks_answer_a_load_balancer_that_asks_by_ip_address(web):
    base, _, _ = web

    assert get(f"{base}/healthz", host="10.0.1.23:8000") == (200, {"status": "ok"})
