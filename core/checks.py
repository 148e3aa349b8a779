"""System checks of our own: `manage.py check --deploy` fails on what must never reach
production, and the production start runs it (deploy/entrypoint.sh; on zappa, core/apps.py).

Every check reads settings only. Those about who can forge or read what are tagged security,
the others DEPLOYMENT; `deploy_checks_enforce` runs both kinds, with Django's own security checks.
"""

import ipaddress
import logging
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register, run_checks
from django.core.exceptions import ImproperlyConfigured

from core.published import (
    DEVELOPMENT_EMAIL_BACKEND,
    DEVELOPMENT_SECRET_PREFIX,
    DEVELOPMENT_SECRETS,
    ECPAY_STAGE_HASH_IVS,
    ECPAY_STAGE_HASH_KEYS,
    ECPAY_STAGE_MERCHANT_IDS,
    PUBLISHED_SECRET_KEY_PREFIXES,
    PUBLISHED_SECRET_KEYS,
)

logger = logging.getLogger(__name__)

# The tag of the checks that are not about security but about whether these settings can run
# production at all (a database, a broker and mail that reach beyond one machine).
DEPLOYMENT = "deployment"

# What the gateways sign with, or authenticate us with: unset, nothing is signed or verified
# (the gateways refuse); at a value anyone can read, anyone can forge a paid callback.
GATEWAY_SECRETS = (
    "WALLET_CALLBACK_SECRET",
    "BANK_APP_CALLBACK_SECRET",
    "ECPAY_MERCHANT_ID",
    "ECPAY_HASH_KEY",
    "ECPAY_HASH_IV",
    "CARD_PROVIDER_API_KEY",
)
# Where the gateways are, and where they and the customer's browser reach us.
ENDPOINTS = ("CARD_PROVIDER_URL", "ECPAY_BASE_URL", "SITE_URL")
ECPAY_PRODUCTION_URL = "https://payment.ecpay.com.tw"
ECPAY_STAGE_URL = "https://payment-stage.ecpay.com.tw"
# Each ECPay credential and the values ECPay publishes for it.
_ECPAY_STAGE_VALUES = {
    "ECPAY_MERCHANT_ID": ECPAY_STAGE_MERCHANT_IDS,
    "ECPAY_HASH_KEY": ECPAY_STAGE_HASH_KEYS,
    "ECPAY_HASH_IV": ECPAY_STAGE_HASH_IVS,
}
# The mail backends that deliver nothing: Django's print, keep in memory, drop or write a file,
# and so does the development mailbox (notifications/mailbox.py).
UNDELIVERING_EMAIL_BACKENDS = frozenset(
    [
        *(
            f"django.core.mail.backends.{name}.EmailBackend"
            for name in ("console", "locmem", "dummy", "filebased")
        ),
        DEVELOPMENT_EMAIL_BACKEND,
    ]
)


@register(Tags.security, deploy=True)
def simulators_off(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> Sequence[CheckMessage]:
    """The gateway simulators answer payments as if they were the gateways: never in production."""
    if settings.SIMULATORS_ENABLED:
        return [
            Error(
                "SIMULATORS_ENABLED is on: /simulators/ would stand in for the payment gateways.",
                hint="Set SIMULATORS_ENABLED=false in production.",
                id="core.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def bench_endpoints_off(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> Sequence[CheckMessage]:
    """The benchmark's bare endpoints write payment rows without the product's rules (bench/):
    never in production."""
    if settings.BENCH_ENDPOINTS_ENABLED:
        return [
            Error(
                "BENCH_ENDPOINTS_ENABLED is on: /bench/ would create payments without the "
                "product's checks.",
                hint="Set BENCH_ENDPOINTS_ENABLED=false in production.",
                id="core.E015",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def https_only(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> Sequence[CheckMessage]:
    """Card details and session cookies travel only over HTTPS in production."""
    if not settings.HTTPS:
        return [
            Error(
                "DJANGO_HTTPS is off: cookies are not secure and plain HTTP is served.",
                hint="Set DJANGO_HTTPS=true behind the TLS-terminating load balancer.",
                id="core.E002",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def debug_off(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> Sequence[CheckMessage]:
    """DJANGO_DEBUG on is development: debug pages, and development values for what is unset."""
    if settings.DEBUG:
        return [
            Error(
                "DJANGO_DEBUG is on: error pages show the code and the settings, and every "
                "gateway secret and endpoint left unset takes its development value.",
                hint="Set DJANGO_DEBUG=false (the default) in production.",
                id="core.E003",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def gateway_secrets_set(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> Sequence[CheckMessage]:
    """Every gateway secret is set: the gateways refuse every callback an empty one would verify."""
    return [
        Error(
            f"{name} is not set: the gateway it belongs to cannot be used.",
            hint=f"Set {name} from the secret store (docs/deploy.md, Gateways).",
            id="core.E004",
        )
        for name in GATEWAY_SECRETS
        if not getattr(settings, name)
    ]


@register(Tags.security, deploy=True)
def gateway_secrets_not_development(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> Sequence[CheckMessage]:
    """No gateway secret is a development value: this repository publishes them."""
    return [
        Error(
            f"{name} is a development value, published in this repository: anyone can sign "
            "with it.",
            hint=f"Set {name} to the gateway's own value, from the secret store.",
            id="core.E005",
        )
        for name in GATEWAY_SECRETS
        if _is_development_secret(getattr(settings, name))
    ]


def _is_development_secret(value: str) -> bool:
    return value.startswith(DEVELOPMENT_SECRET_PREFIX) or value in DEVELOPMENT_SECRETS


@register(Tags.security, deploy=True)
def ecpay_merchant_not_stage(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> Sequence[CheckMessage]:
    """ECPay publishes its stage merchants' keys: only a stage deployment may use them."""
    if settings.ECPAY_STAGE:
        return []
    return [
        Error(
            f"{name} is one of ECPay's public stage values: anyone can sign ECPay's "
            "notifications with them, and ECPay's production does not know them.",
            hint="Set your own merchant's ECPAY_MERCHANT_ID, ECPAY_HASH_KEY and ECPAY_HASH_IV "
            "from the secret store, or ECPAY_STAGE=true on a deployment that uses ECPay's stage.",
            id="core.E006",
        )
        for name, published in _ECPAY_STAGE_VALUES.items()
        if getattr(settings, name) in published
    ]


@register(Tags.security, deploy=True)
def secret_key_not_published(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> Sequence[CheckMessage]:
    """DJANGO_SECRET_KEY signs sessions and password resets: never one anyone can read."""
    key = settings.SECRET_KEY
    if key in PUBLISHED_SECRET_KEYS or key.startswith(PUBLISHED_SECRET_KEY_PREFIXES):
        return [
            Error(
                "DJANGO_SECRET_KEY is a value published in this repository, or Django's "
                "insecure placeholder: anyone can sign sessions with it.",
                hint='Set a new random one from the secret store: python -c "import secrets; '
                'print(secrets.token_urlsafe(50))".',
                id="core.E007",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def endpoints_public(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> Sequence[CheckMessage]:
    """The gateways' endpoints and our own address are real HTTPS addresses, not this machine's
    nor a simulator's."""
    errors = []
    for name in ENDPOINTS:
        problem = _endpoint_problem(getattr(settings, name))
        if problem:
            errors.append(
                Error(
                    f"{name} {problem}.",
                    hint=f"Set {name} to the real https:// address (docs/deploy.md).",
                    id="core.E008",
                )
            )
    return errors


def _endpoint_problem(url: str) -> str:
    """What is wrong with `url` as a production endpoint; empty when nothing is."""
    if not url:
        return "is not set"
    parts = urlsplit(url)
    if "/simulators/" in f"{parts.path}/":
        return f"is {url}, a gateway simulator"
    if _is_this_machine(parts.hostname or ""):
        return f"is {url}, on this machine"
    if parts.scheme != "https":
        return f"is {url}, not an https:// address"
    return ""


def _is_this_machine(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


@register(Tags.security, deploy=True)
def ecpay_host(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> Sequence[CheckMessage]:
    """Checkout forms post card details to ECPAY_BASE_URL: ECPay's own host, the production one
    unless ECPAY_STAGE says this deployment uses ECPay's stage."""
    url = settings.ECPAY_BASE_URL.rstrip("/")
    expected = ECPAY_STAGE_URL if settings.ECPAY_STAGE else ECPAY_PRODUCTION_URL
    # A URL that is unset, local or a simulator's is core.E008's to report.
    if url == expected or _endpoint_problem(url):
        return []
    if settings.ECPAY_STAGE:
        message = f"ECPAY_STAGE is on, and ECPAY_BASE_URL is {url}, not ECPay's stage host."
        hint = f"Set ECPAY_BASE_URL={ECPAY_STAGE_URL}, or ECPAY_STAGE=false in production."
    else:
        message = f"ECPAY_BASE_URL is {url}, not ECPay's production host."
        hint = f"Set ECPAY_BASE_URL={ECPAY_PRODUCTION_URL} (ECPAY_STAGE=true: a stage deployment)."
    return [Error(message, hint=hint, id="core.E009")]


@register(DEPLOYMENT, deploy=True)
def database_not_sqlite(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> Sequence[CheckMessage]:
    """SQLite is one file on one machine: gone with the container, unseen by every other one."""
    return [
        Error(
            f"The database {alias!r} is SQLite: each container would keep payments of its own, "
            "and lose them when it stops.",
            hint="Set DATABASE_URL=mysql://... (RDS MySQL, docs/deploy.md).",
            id="core.E010",
        )
        for alias, database in settings.DATABASES.items()
        if database["ENGINE"] == "django.db.backends.sqlite3"
    ]


@register(DEPLOYMENT, deploy=True)
def broker_not_filesystem(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> Sequence[CheckMessage]:
    """The filesystem broker is a folder on one machine: no worker elsewhere sees its tasks."""
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        return [
            Error(
                "CELERY_BROKER_URL is the filesystem broker: tasks would wait in a folder of "
                "this container that no worker reads.",
                hint="Set CELERY_BROKER_URL to Redis (rediss://...) or SQS (sqs://).",
                id="core.E011",
            )
        ]
    return []


@register(DEPLOYMENT, deploy=True)
def email_delivered(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> Sequence[CheckMessage]:
    """Customers are told about their payments by email: a backend that sends it."""
    if settings.EMAIL_BACKEND in UNDELIVERING_EMAIL_BACKENDS:
        return [
            Error(
                f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}, which sends no email: customers "
                "would never hear about their payments.",
                hint="Set EMAIL_BACKEND=django_ses.SESBackend (Amazon SES).",
                id="core.E012",
            )
        ]
    return []


# A file collectstatic always copies (the pages' stylesheet): where it is, the rest is too.
COLLECTED_MARKER = "css/site.css"


@register(DEPLOYMENT, deploy=True)
def static_files_collected(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> Sequence[CheckMessage]:
    """WhiteNoise serves the pages' stylesheets and scripts from STATIC_ROOT, filled when the
    image or the Lambda package is built: without them every page loads unstyled and broken."""
    if not (Path(settings.STATIC_ROOT) / COLLECTED_MARKER).is_file():
        return [
            Error(
                f"STATIC_ROOT ({settings.STATIC_ROOT}) holds no collected static files: the "
                "pages would load without their stylesheets and scripts.",
                hint="Run `manage.py collectstatic` when building (the Dockerfile does), or set "
                "DJANGO_STATIC_ROOT to where the build put them.",
                id="core.E013",
            )
        ]
    return []


@register(DEPLOYMENT, deploy=True)
def database_tls_ca_loads(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> Sequence[CheckMessage]:
    """A CA bundle that is missing or unreadable fails every database connection, at the first
    request rather than at start: say so before the process serves."""
    if not settings.DATABASE_TLS_CA:
        return []
    try:
        ssl.create_default_context(cafile=settings.DATABASE_TLS_CA)
    except (OSError, ssl.SSLError) as error:
        return [
            Error(
                f"DATABASE_TLS_CA ({settings.DATABASE_TLS_CA}) is not a readable bundle of CA "
                f"certificates ({error}): no connection to the database would be trusted.",
                hint="Fetch the RDS bundle when building (`python deploy/rds_ca.py fetch`; the "
                "Dockerfile does), or point DATABASE_TLS_CA at where it is.",
                id="core.E014",
            )
        ]
    return []


def deploy_checks_enforce() -> None:
    """Run the deploy checks of settings, ours and Django's security ones, as `manage.py check
    --deploy --fail-level ERROR` runs them: log every warning, and raise ImproperlyConfigured
    naming every error if there is one.

    Settings only: called while the apps load (core/apps.py), it leaves out the checks that
    import every URL and model, which `manage.py check --deploy` runs too.
    """
    messages = [
        message
        for message in run_checks(tags=[Tags.security, DEPLOYMENT], include_deployment_checks=True)
        if not message.is_silenced()
    ]
    errors = [message for message in messages if message.is_serious()]
    for message in messages:
        if not message.is_serious():
            logger.warning("Deploy check: %s", message)
    if errors:
        raise ImproperlyConfigured(
            "The deploy checks failed: refusing to start.\n"
            + "\n".join(str(error) for error in errors)
        )
