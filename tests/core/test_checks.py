"""The deploy checks one by one, in this process, over every value they must refuse: what
tests/test_deploy_settings.py shows `manage.py check --deploy` doing, case by case."""

import re
import secrets

import pytest

from core import checks
from core.published import (
    DEVELOPMENT_DEFAULTS,
    ECPAY_STAGE_HASH_IVS,
    ECPAY_STAGE_HASH_KEYS,
    ECPAY_STAGE_MERCHANT_IDS,
    PUBLISHED_SECRET_KEYS,
)
from tests.processes import ROOT

# Where this repository writes values for DJANGO_SECRET_KEY and the gateways' secrets.
FILES_WITH_VALUES = [
    ".env.example",
    "deploy/compose.env",
    "Dockerfile",
    "bin/bench",
    "bin/fuzz-api",
    "bin/lib.sh",
    "bin/test",
    "bench/stack.py",
    "tests/processes.py",
]


@pytest.fixture
def own_secrets(settings) -> None:
    """Every gateway secret set to a value nobody has seen, as production has them."""
    for name in checks.GATEWAY_SECRETS:
        setattr(settings, name, secrets.token_urlsafe(16))


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def values_written_for(name: str) -> set[str]:
    """Every literal value the repository's files give the variable `name`."""
    assignment = re.compile(rf'\b{name}"?\s*[=,]\s*"?([\w.-]+)')
    return {
        value
        for path in FILES_WITH_VALUES
        for value in assignment.findall((ROOT / path).read_text())
    }


def test_every_secret_key_written_in_the_repository_is_refused(settings):
    written = values_written_for("DJANGO_SECRET_KEY")

    assert written >= {
        "tests-only-secret-key",
        "build-only",
        "dev-only-insecure-secret-key-change-me",
    }
    for key in written:
        settings.SECRET_KEY = key
        assert ids(checks.secret_key_not_published()) == ["core.E007"], key


@pytest.mark.parametrize(
    "key",
    [*sorted(PUBLISHED_SECRET_KEYS), "dev-only-anything", "django-insecure-0123456789abcdefghij"],
)
def test_a_published_secret_key_is_refused(settings, key):
    settings.SECRET_KEY = key

    assert ids(checks.secret_key_not_published()) == ["core.E007"]


def test_a_secret_key_nobody_has_seen_passes(settings):
    settings.SECRET_KEY = "h6Yq2P-vtu3R0mWzA8cJ1sNf5xKgE4oLdB7iTjS9aVbUpQlXrDn"

    assert checks.secret_key_not_published() == []


@pytest.mark.parametrize(
    "name", ["WALLET_CALLBACK_SECRET", "BANK_APP_CALLBACK_SECRET", "CARD_PROVIDER_API_KEY"]
)
def test_every_development_secret_written_in_the_repository_is_refused(settings, own_secrets, name):
    written = values_written_for(name) | {DEVELOPMENT_DEFAULTS[name]}

    for value in written:
        setattr(settings, name, value)
        assert ids(checks.gateway_secrets_not_development()) == ["core.E005"], value


@pytest.mark.parametrize(
    ("name", "published"),
    [
        ("ECPAY_MERCHANT_ID", ECPAY_STAGE_MERCHANT_IDS),
        ("ECPAY_HASH_KEY", ECPAY_STAGE_HASH_KEYS),
        ("ECPAY_HASH_IV", ECPAY_STAGE_HASH_IVS),
    ],
)
def test_ecpay_stage_values_are_refused_unless_the_deployment_is_a_stage_one(
    settings, own_secrets, name, published
):
    assert values_written_for(name) <= published

    for value in published:
        setattr(settings, name, value)
        settings.ECPAY_STAGE = False
        assert ids(checks.ecpay_merchant_not_stage()) == ["core.E006"], value
        settings.ECPAY_STAGE = True
        assert checks.ecpay_merchant_not_stage() == [], value


@pytest.mark.parametrize(
    "url",
    [
        "",
        "http://payments.example.com",
        "https://payments.example.com/simulators/card",
        "https://payments.example.com/simulators",
        "https://localhost",
        "https://shop.localhost:8000",
        "https://127.0.0.2/v1",
        "https://[::1]/v1",
        "https://0.0.0.0:8000",
    ],
)
def test_an_endpoint_that_is_unset_plain_local_or_a_simulator_is_refused(settings, url):
    settings.SITE_URL = url

    assert "core.E008" in ids(checks.endpoints_public())


def test_public_https_endpoints_pass(settings):
    settings.CARD_PROVIDER_URL = "https://card-provider.example.com/v1"
    settings.ECPAY_BASE_URL = "https://payment.ecpay.com.tw/"
    settings.SITE_URL = "https://payments.example.com"
    settings.ECPAY_STAGE = False

    assert checks.endpoints_public() == []
    assert checks.ecpay_host() == []


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
        "django.core.mail.backends.dummy.EmailBackend",
        "django.core.mail.backends.filebased.EmailBackend",
        "notifications.mailbox.MailboxBackend",
    ],
)
def test_an_email_backend_that_delivers_nothing_is_refused(settings, backend):
    settings.EMAIL_BACKEND = backend

    assert ids(checks.email_delivered()) == ["core.E012"]


def test_amazon_ses_delivers(settings):
    settings.EMAIL_BACKEND = "django_ses.SESBackend"

    assert checks.email_delivered() == []
