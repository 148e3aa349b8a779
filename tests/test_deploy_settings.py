"""`manage.py check --deploy` under production settings, in a process of its own, and the two
ways production starts only when it passes: the image's entrypoint and zappa's start-up check."""

import json
import os
import secrets
import subprocess
from fnmatch import fnmatch
from pathlib import Path

import pytest

from core.checks import COLLECTED_MARKER, ECPAY_STAGE_URL, ENDPOINTS, GATEWAY_SECRETS
from core.published import DEVELOPMENT_DEFAULTS
from tests.aws import secret_set
from tests.certificates import ca_bundle
from tests.processes import PYTHON, ROOT, project_environment


def production_environment(tmp_path, **overrides: str) -> dict[str, str]:
    # What collectstatic leaves when the image or the package is built, as far as the checks
    # look (core.E013): the pages' stylesheet.
    collected = tmp_path / "static"
    (collected / COLLECTED_MARKER).parent.mkdir(parents=True, exist_ok=True)
    (collected / COLLECTED_MARKER).write_text("body {}")
    production = {
        "DJANGO_STATIC_ROOT": str(collected),
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "payments.example.com",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://payments.example.com",
        "DJANGO_HTTPS": "true",
        # Never connected to: the checks read settings only.
        "DATABASE_URL": "mysql://payments:not-a-password@db.payments.internal:3306/payments",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "CACHE_URL": "redis://127.0.0.1:6379/1",
        "SIMULATORS_ENABLED": "false",
        "EMAIL_BACKEND": "django_ses.SESBackend",
        "DEFAULT_FROM_EMAIL": "payments@example.com",
        # A merchant of our own and secrets nobody has seen.
        "WALLET_CALLBACK_SECRET": secrets.token_urlsafe(32),
        "BANK_APP_CALLBACK_SECRET": secrets.token_urlsafe(32),
        "ECPAY_MERCHANT_ID": "3458721",
        "ECPAY_HASH_KEY": secrets.token_urlsafe(12),
        "ECPAY_HASH_IV": secrets.token_urlsafe(12),
        "CARD_PROVIDER_API_KEY": secrets.token_urlsafe(32),
        "CARD_PROVIDER_URL": "https://card-provider.example.com/v1",
        "ECPAY_BASE_URL": "https://payment.ecpay.com.tw",
        "SITE_URL": "https://payments.example.com",
        # Writes the folder broker's folders when a test picks that broker: never the project's.
        "CELERY_FILESYSTEM_BROKER_DIR": str(tmp_path / "broker"),
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
    ("overrides", "problems"),
    [
        ({"SIMULATORS_ENABLED": "true"}, ["core.E001"]),
        ({"BENCH_ENDPOINTS_ENABLED": "true"}, ["core.E015"]),
        ({"DJANGO_HTTPS": "false"}, ["core.E002"]),
        ({"DJANGO_DEBUG": "true"}, ["security.W018", "core.E003"]),
        ({"DJANGO_SECRET_KEY": "dev-only-insecure-secret-key-change-me"}, ["core.E007"]),
        ({"ECPAY_BASE_URL": ECPAY_STAGE_URL}, ["core.E009"]),
        ({"ECPAY_BASE_URL": "https://payment.ecpay.example.com"}, ["core.E009"]),
        ({"ECPAY_STAGE": "true"}, ["core.E009"]),
        (
            # What works on one machine only.
            {
                "DATABASE_URL": "sqlite:///{tmp_path}/db.sqlite3",
                "CELERY_BROKER_URL": "filesystem://localhost/",
                "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
            },
            ["core.E010", "core.E011", "core.E012"],
        ),
        ({"DJANGO_STATIC_ROOT": "{tmp_path}/collectstatic-never-ran"}, ["core.E013"]),
        # The RDS bundle was never fetched, or what was fetched is not one (an error page).
        ({"DATABASE_TLS_CA": "{tmp_path}/rds-ca/global-bundle.pem"}, ["core.E014"]),
        ({"DATABASE_TLS_CA": "{tmp_path}/static/css/site.css"}, ["core.E014"]),
    ],
)
def test_check_deploy_fails_on_what_must_not_reach_production(tmp_path, overrides, problems):
    overrides = {name: value.format(tmp_path=tmp_path) for name, value in overrides.items()}

    done = check_deploy(production_environment(tmp_path, **overrides))

    assert done.returncode != 0
    for problem in problems:
        assert problem in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("overrides", "problems"),
    [
        pytest.param(
            dict.fromkeys(GATEWAY_SECRETS, ""),
            [("core.E004", name) for name in GATEWAY_SECRETS],
            id="secrets unset",
        ),
        pytest.param(
            {name: DEVELOPMENT_DEFAULTS[name] for name in GATEWAY_SECRETS},
            [
                ("core.E005", "WALLET_CALLBACK_SECRET"),
                ("core.E005", "BANK_APP_CALLBACK_SECRET"),
                ("core.E005", "CARD_PROVIDER_API_KEY"),
                # ECPay's public stage merchant, the development one.
                ("core.E006", "ECPAY_MERCHANT_ID"),
                ("core.E006", "ECPAY_HASH_KEY"),
                ("core.E006", "ECPAY_HASH_IV"),
            ],
            id="secrets at their development values",
        ),
        pytest.param(
            # deploy/compose.env's, and the stage merchant of ECPay's SDKs' examples.
            {
                "WALLET_CALLBACK_SECRET": "dev-only-compose-wallet-secret",
                "BANK_APP_CALLBACK_SECRET": "dev-only-compose-bank-app-secret",
                "ECPAY_MERCHANT_ID": "2000132",
                "ECPAY_HASH_KEY": "5294y06JbISpM5x9",
                "ECPAY_HASH_IV": "v77hoKGq4kWxNNIS",
            },
            [
                ("core.E005", "WALLET_CALLBACK_SECRET"),
                ("core.E005", "BANK_APP_CALLBACK_SECRET"),
                ("core.E006", "ECPAY_MERCHANT_ID"),
                ("core.E006", "ECPAY_HASH_KEY"),
                ("core.E006", "ECPAY_HASH_IV"),
            ],
            id="other published secrets",
        ),
        pytest.param(
            dict.fromkeys(ENDPOINTS, ""),
            [("core.E008", name) for name in ENDPOINTS],
            id="endpoints unset",
        ),
        pytest.param(
            {
                "CARD_PROVIDER_URL": "https://payments.example.com/simulators/card",
                "ECPAY_BASE_URL": "https://payments.example.com/simulators/ecpay/",
                "SITE_URL": "https://payments.example.com/simulators/",
            },
            [("core.E008", name) for name in ENDPOINTS],
            id="endpoints at the simulators",
        ),
        pytest.param(
            {
                "CARD_PROVIDER_URL": "https://localhost:8443/v1",
                "ECPAY_BASE_URL": "https://127.0.0.1",
                "SITE_URL": "https://[::1]:8000",
            },
            [("core.E008", name) for name in ENDPOINTS],
            id="endpoints on this machine",
        ),
        pytest.param(
            {
                "CARD_PROVIDER_URL": "http://card-provider.example.com/v1",
                "ECPAY_BASE_URL": "http://payment.ecpay.com.tw",
                "SITE_URL": "http://payments.example.com",
            },
            [("core.E008", name) for name in ENDPOINTS],
            id="endpoints over plain http",
        ),
    ],
)
def test_check_deploy_names_each_setting_it_refuses(tmp_path, overrides, problems):
    done = check_deploy(production_environment(tmp_path, **overrides))

    output = done.stdout + done.stderr
    assert done.returncode != 0
    for problem, name in problems:
        assert f"({problem}) {name} " in output, output


def test_ecpay_stage_merchants_pass_on_a_stage_deployment_that_uses_the_stage_host(tmp_path):
    stage = production_environment(
        tmp_path,
        ECPAY_STAGE="true",
        ECPAY_BASE_URL=ECPAY_STAGE_URL,
        ECPAY_MERCHANT_ID="3002607",
        ECPAY_HASH_KEY="pwFHCqoQZGmho4w6",
        ECPAY_HASH_IV="EkRm7iFT261dpevs",
    )

    done = check_deploy(stage)

    assert done.returncode == 0, done.stdout + done.stderr


# --- the image's entrypoint ------------------------------------------------------------------


def entrypoint(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    """deploy/entrypoint.sh run as the image runs it, with `command` as the image's CMD; the
    project's interpreter is the `python` it finds, as /opt/venv's is in the image."""
    return subprocess.run(
        ["deploy/entrypoint.sh", *command],
        cwd=ROOT,
        env={**env, "PATH": f"{Path(PYTHON).parent}:{env['PATH']}"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_entrypoint_execs_the_command_when_the_deploy_check_passes(tmp_path):
    """exec: the command takes the entrypoint's place, so it is the container's main process and
    gets ECS's SIGTERM itself. Its parent is then this test, not a shell left waiting."""
    done = entrypoint(production_environment(tmp_path), "sh", "-c", 'echo "ran, child of $PPID"')

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == f"ran, child of {os.getpid()}"


def test_the_entrypoint_refuses_to_run_the_command_when_the_deploy_check_fails(tmp_path):
    started = tmp_path / "started"

    done = entrypoint(
        production_environment(tmp_path, WALLET_CALLBACK_SECRET=""), "touch", str(started)
    )

    assert done.returncode != 0
    assert not started.exists()
    assert "core.E004" in done.stderr
    assert "refusing to start" in done.stderr


# --- zappa: the check when the app loads -----------------------------------------------------


def django_setup(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_with_the_start_up_check_a_good_environment_starts(tmp_path):
    done = django_setup(production_environment(tmp_path, DJANGO_DEPLOY_CHECK_ON_START="true"))

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "started"


@pytest.mark.parametrize(
    "overrides",
    [
        {"ECPAY_HASH_KEY": ""},
        {"WALLET_CALLBACK_SECRET": "dev-only-wallet-secret"},
        {"DATABASE_URL": "sqlite:///{tmp_path}/db.sqlite3"},
    ],
)
def test_with_the_start_up_check_a_bad_environment_refuses_to_start(tmp_path, overrides):
    overrides = {name: value.format(tmp_path=tmp_path) for name, value in overrides.items()}

    done = django_setup(
        production_environment(tmp_path, DJANGO_DEPLOY_CHECK_ON_START="true", **overrides)
    )

    assert done.returncode != 0
    assert "started" not in done.stdout
    assert "The deploy checks failed: refusing to start" in done.stderr


def test_zappa_starts_with_its_variables_and_the_secrets_it_reads_from_secrets_manager(
    tmp_path, aws, moto_url
):
    stage = json.loads((ROOT / "zappa_settings.json").read_text())["production"]
    variables = stage["aws_environment_variables"]
    # The package carries the static files collectstatic put in `staticfiles/` (not excluded).
    assert variables["DJANGO_STATIC_ROOT"] == "staticfiles"
    assert not any(fnmatch("staticfiles", pattern) for pattern in stage["exclude"])
    # What the operator keeps in the function's secret (docs/deploy.md), on moto.
    production = production_environment(tmp_path)
    secret = {
        name: value
        for name, value in production.items()
        if name in (*GATEWAY_SECRETS, "DJANGO_SECRET_KEY", "DATABASE_URL", "CACHE_URL")
    }
    [secret_id] = variables["SECRETS_MANAGER_SECRET_IDS"].split(",")
    secrets_manager = aws("secretsmanager")
    secret_set(secrets_manager, secret_id, secret)
    # ...and the RDS CA bundle deploy/rds_ca.py fetched into rds-ca/ (tests/test_rds_ca.py).
    assert variables["DATABASE_TLS_CA"] == "rds-ca/global-bundle.pem"
    assert not any(fnmatch("rds-ca", pattern) for pattern in stage["exclude_glob"])
    (tmp_path / "rds-ca.pem").write_bytes(ca_bundle(tmp_path, "RDS stand-in"))
    lambda_env = {
        **variables,
        "DJANGO_STATIC_ROOT": production["DJANGO_STATIC_ROOT"],
        "DATABASE_TLS_CA": str(tmp_path / "rds-ca.pem"),
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }

    def on_lambda(**overrides: str) -> dict[str, str]:
        """The function's environment: its variables, and nothing of the secret's."""
        env = project_environment(**{**lambda_env, **overrides})
        for name in secret:
            env.pop(name, None)
        return env

    done = django_setup(on_lambda())
    assert done.returncode == 0, done.stderr
    # A secret the operator left out is refused at start, by name.
    secrets_manager.put_secret_value(
        SecretId=secret_id, SecretString=json.dumps({**secret, "ECPAY_HASH_IV": ""})
    )
    refused = django_setup(on_lambda())
    assert refused.returncode != 0
    assert "core.E004" in refused.stderr
    # A secret that cannot be read stops the start too, naming it, never showing a value.
    missing = django_setup(on_lambda(SECRETS_MANAGER_SECRET_IDS="no-such-secret"))
    assert missing.returncode != 0
    assert "'no-such-secret' (SECRETS_MANAGER_SECRET_IDS) could not be read" in missing.stderr
