"""Settings for every environment, read from the environment (and a `.env` file if present).

The defaults are for development on one machine and nothing else: DEBUG is off unless asked for,
and with DEBUG off a missing secret is an error, never a silent fallback. `.env.example` lists
every variable this module reads.
"""

import json
import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import django_stubs_ext
import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from core import published

# Lets classes be written ModelAdmin[Payment] for the type checker; a no-op otherwise.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # local state of the zero-setup run: SQLite file, broker folders

env = environ.Env()
# The process environment always wins over the file. Tests set DJANGO_ENV_FILE to "" so that a
# developer's .env never changes what the suite runs against.
_env_file = env.str("DJANGO_ENV_FILE", default=str(BASE_DIR / ".env"))
if _env_file:
    environ.Env.read_env(_env_file, overwrite=False)


def _secrets_manager_read(secret_ids: list[str]) -> None:
    """Set the variables that the AWS Secrets Manager secrets `secret_ids` hold, each secret a
    JSON object of variable names and values, where nothing has set them already. This is for
    AWS Lambda, where nothing injects secrets as ECS does: they are read when the function starts
    and kept in its memory only, never written to a file or S3."""
    import boto3  # only where secrets are read from AWS

    client = boto3.session.Session().client(
        "secretsmanager", region_name=env.str("AWS_REGION", default="ap-northeast-1")
    )
    for secret_id in secret_ids:
        try:
            values = json.loads(client.get_secret_value(SecretId=secret_id)["SecretString"])
        except Exception as error:  # the secret's value never goes into the message
            raise ImproperlyConfigured(
                f"The secret {secret_id!r} (SECRETS_MANAGER_SECRET_IDS) could not be read as a "
                f"JSON object: {type(error).__name__}."
            ) from None
        if not isinstance(values, dict):
            raise ImproperlyConfigured(f"The secret {secret_id!r} is not a JSON object.")
        for name, value in values.items():
            os.environ.setdefault(name, str(value))


if _secret_ids := env.list("SECRETS_MANAGER_SECRET_IDS", default=[]):
    _secrets_manager_read(_secret_ids)

DEBUG = env.bool("DJANGO_DEBUG", default=False)


def _development_default(name: str) -> str:
    """What the gateway secret or endpoint `name` is when unset: its development value with
    DJANGO_DEBUG on, and otherwise empty, never a value published in this repository. The
    gateways refuse to sign or verify with an empty secret, and `manage.py check --deploy`
    (which the production start runs) fails on one (core/checks.py)."""
    return published.DEVELOPMENT_DEFAULTS[name] if DEBUG else ""


# In development, the port bin/run serves on (PORT; the card provider simulator listens on
# PORT + 100). The development addresses below follow it, so a command run in another shell with
# the same PORT (bin/run's export line sets it) reaches the running service and its simulators.
DEVELOPMENT_PORT = env.int("PORT", default=published.DEVELOPMENT_PORT)
_DEVELOPMENT_ENDPOINTS = published.development_endpoints(DEVELOPMENT_PORT)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set. For development copy .env.example to .env "
        "(bin/run does it for you); in production take it from the secret store."
    )

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
# Origins whose HTTPS forms may post here (the site's own, behind a proxy): https://host
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS ------------------------------------------------------------------------------------
# Production serves only HTTPS, behind a load balancer that terminates TLS and says so in
# X-Forwarded-Proto. Off by default: development and the tests speak plain HTTP on one machine.
HTTPS = env.bool("DJANGO_HTTPS", default=False)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # The load balancer's health checks reach the containers over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=True)
SESSION_COOKIE_HTTPONLY = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The image's entrypoint refuses to start a process whose settings fail `manage.py check
# --deploy` (deploy/entrypoint.sh). zappa (Lambda) runs no entrypoint: with this on, loading the
# app runs the same checks of settings and raises on an error instead (core/apps.py).
DEPLOY_CHECK_ON_START = env.bool("DJANGO_DEPLOY_CHECK_ON_START", default=False)

INSTALLED_APPS = [
    # Django's admin with the back office's own site: two-factor sign-in for staff.
    "config.apps.BackOfficeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    # The API docs' Swagger UI and Redoc, served from here: no CDN, and nothing the
    # Content-Security-Policy must let in from elsewhere.
    "drf_spectacular_sidecar",
    "csp",
    "core",
    "accounts",
    "orders",
    "payments",
    "gateways",
    "notifications",
    # Sign-in lockouts (django-axes): its attempts are in the admin, for staff to see and lift.
    "axes",
    # Two-factor sign-in for staff (accounts/two_factor.py): authenticator apps (TOTP) and
    # single-use recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
]

MIDDLEWARE = [
    # First: every later line of the request is logged with its id.
    "core.logging.RequestIdMiddleware",
    # Before any check of the Host header: load balancers probe containers by address.
    "core.health.ProbeMiddleware",
    # Counts every other request; answers /metrics, before the host check too (a scraper asks
    # by address): core/metrics.py.
    "core.metrics.MetricsMiddleware",
    # Errors Django answers itself under /api/ (404, 500) in the API's shape, DEBUG or not.
    "core.views.ApiErrorShape",
    # Before anything reads a page's form (the CSRF check does): UTF-8 only.
    "core.views.RequestCharsetCheck",
    "django.middleware.security.SecurityMiddleware",
    # The Content-Security-Policy header on every answer (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    # Serves collectstatic's files (the admin's, the API docs') from the app itself, compressed
    # and with long cache headers: no separate file server to run.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Tells whether the session's user proved a second factor (request.user.is_verified()).
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: answers a locked-out sign-in with the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# The MySQL driver: mysqlclient (the default; it compiles against the MySQL client library), or
# PyMySQL (pure Python) where that library is missing: AWS Lambda (zappa_settings.json). Django's
# MySQL backend takes PyMySQL in mysqlclient's place.
DATABASE_DRIVER = env.str("DATABASE_DRIVER", default="mysqlclient")
if DATABASE_DRIVER == "pymysql":
    import pymysql

    pymysql.install_as_MySQLdb()
elif DATABASE_DRIVER != "mysqlclient":
    raise ImproperlyConfigured(
        f"DATABASE_DRIVER is {DATABASE_DRIVER!r}: mysqlclient (the default) or pymysql."
    )
# SQLite by default so a newcomer needs nothing; MySQL / MariaDB through DATABASE_URL, e.g.
# mysql://payments:payments@127.0.0.1:3306/payments
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
_database = DATABASES["default"]
# The user and password apart from the URL: ECS injects both from a secret in Secrets Manager
# (deploy/service.yaml: the services' user, or the owner for the migrate task), so DATABASE_URL
# holds no secret, one URL serves every task, and a password of any characters needs no escaping.
if _database_user := env.str("DATABASE_USER", default=""):
    _database["USER"] = _database_user
if _database_password := env.str("DATABASE_PASSWORD", default=""):
    _database["PASSWORD"] = _database_password
# The services' own database user, which `manage.py database_users` (the migrate task, as the
# owner) creates with rights to rows only: deploy/service.yaml, docs/deploy.md.
DATABASE_APP_USER = env.str("DATABASE_APP_USER", default="payments_app")
DATABASE_APP_PASSWORD = env.str("DATABASE_APP_PASSWORD", default="")
# Persistent connections: reconnecting per request costs ~45% of a database endpoint's
# throughput on MariaDB (docs/stack.md); health checks drop a connection the server closed.
_database["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
_database["CONN_HEALTH_CHECKS"] = True
# The CA bundle the database server's certificate must chain to ("" for no TLS). A relative
# path is in the code's folder: the Lambda package carries rds-ca/global-bundle.pem
# (deploy/rds_ca.py fetched it, checked against the pinned digest); core.E014 checks it loads.
DATABASE_TLS_CA = env.str("DATABASE_TLS_CA", default="")
if DATABASE_TLS_CA:
    DATABASE_TLS_CA = str(BASE_DIR / DATABASE_TLS_CA)
if _database["ENGINE"] == "django.db.backends.mysql":
    _database["OPTIONS"] = {
        "charset": "utf8mb4",
        # Strict mode: a value that does not fit is an error, never silently truncated.
        "init_command": "SET sql_mode='STRICT_ALL_TABLES'",
        # Row locks by unique key take no gap locks under READ COMMITTED.
        "isolation_level": "read committed",
        # Connection arguments in DATABASE_URL's query string, by mysqlclient's names, on top.
        **_database.get("OPTIONS", {}),
    }
    # TLS to the database (RDS: its CA bundle, docs/deploy.md). With it, the connection is
    # encrypted and the server's certificate and name are checked, or there is no connection:
    # never a silent fall back to plain text.
    if DATABASE_TLS_CA and DATABASE_DRIVER == "pymysql":
        # PyMySQL's names for the same: with these it refuses a server without TLS too.
        _database["OPTIONS"].update(ssl_ca=DATABASE_TLS_CA, ssl_verify_identity=True)
    elif DATABASE_TLS_CA:
        _database["OPTIONS"].update(ssl={"ca": DATABASE_TLS_CA}, ssl_mode="VERIFY_IDENTITY")
    _database["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
elif _database["ENGINE"] == "django.db.backends.sqlite3":
    _database["OPTIONS"] = {
        # The web server and the worker share the file: wait for a lock instead of failing,
        # let readers run beside a writer (WAL), and take the write lock when a transaction
        # starts so two writers never deadlock upgrading a read lock.
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL;",
        "transaction_mode": "IMMEDIATE",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
# First, django-axes: a sign-in with a password (the site's page, the admin's) is refused while
# its account and address are locked out, before a password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hant", "繁體中文")]
# Stored in UTC; shown in Taiwan time, where ECPay and most customers are.
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="Asia/Taipei")
# Locale formats of our own where Django's differ from how our customers write (config/formats/).
FORMAT_MODULE_PATH = ["config.formats"]
USE_I18N = True
USE_TZ = True
# The customer's pages are translated here (locale/zh_Hant); bin/run and bin/test compile them.
LOCALE_PATHS = [BASE_DIR / "locale"]

# The customer's pages (checkout, orders) need a signed-in customer.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "orders:list"

STATIC_URL = "static/"
# The project's own: the pages' stylesheet and scripts (static/), never inline ones.
STATICFILES_DIRS = [BASE_DIR / "static"]
# A relative DJANGO_STATIC_ROOT is in the code's folder: the Lambda package carries its static
# files in `staticfiles/` (zappa_settings.json).
STATIC_ROOT = BASE_DIR / env.str("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "static"))
# collectstatic fills it when the image or the Lambda package is built; WhiteNoise warns on every
# request if it is missing. Only development makes it here: in production the code's folder may
# be read-only (Lambda's is), and a missing one stops the start instead (core.checks).
if DEBUG:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Compressed copies at collectstatic time (the image build). Not the manifest variant: that
    # one makes every page fail where collectstatic has not run (development, the tests).
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Amazon Cognito bearer tokens (API) -------------------------------------------------------
# The API accepts `Authorization: Bearer <JWT>` from this user pool (seed 001) once
# COGNITO_USER_POOL_ID is set; accounts/auth.py checks the tokens.
COGNITO_USER_POOL_ID = env.str("COGNITO_USER_POOL_ID", default="")  # ap-northeast-1_AbC123xyz
# A pool id starts with its region.
COGNITO_REGION = env.str("COGNITO_REGION", default=COGNITO_USER_POOL_ID.partition("_")[0])
COGNITO_ISSUER = env.str(
    "COGNITO_ISSUER",
    default=f"https://cognito-idp.{COGNITO_REGION}.amazonaws.com/{COGNITO_USER_POOL_ID}",
)
COGNITO_JWKS_URL = env.str("COGNITO_JWKS_URL", default=f"{COGNITO_ISSUER}/.well-known/jwks.json")
# The app clients whose tokens are accepted: an access token's `client_id`, an id token's `aud`.
COGNITO_APP_CLIENT_IDS = env.list("COGNITO_APP_CLIENT_IDS", default=[])
# Which tokens are accepted: "access" (what an API client should send), "id", or both.
COGNITO_TOKEN_USES = env.list("COGNITO_TOKEN_USES", default=["access"])
# Whether a verified email in a token whose user is unknown here creates a customer.
COGNITO_CREATE_USERS = env.bool("COGNITO_CREATE_USERS", default=False)
# How long the pool's public keys are kept; a token signed by a key not among them makes one
# fetch sooner (key rotation).
COGNITO_JWKS_CACHE_SECONDS = env.int("COGNITO_JWKS_CACHE_SECONDS", default=3600)
# Tolerance for clocks that disagree, on a token's expiry and issue time.
COGNITO_LEEWAY_SECONDS = env.int("COGNITO_LEEWAY_SECONDS", default=10)
if COGNITO_USER_POOL_ID and not COGNITO_APP_CLIENT_IDS:
    raise ImproperlyConfigured("COGNITO_APP_CLIENT_IDS is empty: no Cognito token would pass.")
if not set(COGNITO_TOKEN_USES) <= {"access", "id"}:
    raise ImproperlyConfigured('COGNITO_TOKEN_USES takes "access", "id" or both.')
_COGNITO_AUTHENTICATION = ["accounts.auth.CognitoJWTAuthentication"] if COGNITO_USER_POOL_ID else []

# --- Django REST framework --------------------------------------------------------------------
REST_FRAMEWORK = {
    # Money leaves the API as strings so no client parses it into a float by accident.
    "COERCE_DECIMAL_TO_STRING": True,
    # Token first: a caller with no credentials gets 401 with a WWW-Authenticate header.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        *_COGNITO_AUTHENTICATION,
        # A session whose user must prove a second factor counts only once they have.
        "accounts.auth.TrustedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": ["core.api.DecimalJSONParser"],
    "UNAUTHENTICATED_USER": None,
    # Per caller: a signed-in user by id, anyone else by address. Counted in the default cache,
    # which must be shared by every web process in production (CACHE_URL=redis://...).
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("API_THROTTLE_USER_RATE", default="120/min"),
        "anon": env.str("API_THROTTLE_ANON_RATE", default="30/min"),
        # Per address, for the gateways' callbacks (payments/callbacks/views.py): unset, none.
        # A throttled ECPay notification is answered 0|..., and ECPay delivers it again later.
        "callbacks": env.str("CALLBACK_THROTTLE_RATE", default=None),
        # Per address, the callbacks refused before any signature could vouch for them: past
        # it, that address's callbacks are refused before they are stored. Signed ones never
        # count, so a gateway's own callbacks are never held back by someone else's junk.
        "callbacks_unsigned": env.str("CALLBACK_UNSIGNED_THROTTLE_RATE", default="60/min"),
    },
    # How many proxies in front add X-Forwarded-For (the ALB: 1). The throttles take the
    # address that many hops back; 0 trusts no header, so nobody picks their own address.
    "NUM_PROXIES": env.int("TRUSTED_PROXY_COUNT", default=0),
}

# --- Sign-in lockout (django-axes) ------------------------------------------------------------
# After LOGIN_FAILURE_LIMIT wrong passwords for one account from one address, that account is
# refused from that address for LOGIN_LOCKOUT_MINUTES, even with the right password; a success
# before then clears the count. By account and address together, so nobody can lock a customer
# out from elsewhere. Staff see the lockouts in the admin (Axes → Access attempts) and managers
# lift one by deleting it, or `manage.py axes_reset_username <email>`. API tokens and Cognito
# bearer tokens are not passwords: they are not counted.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The address as the throttles take it (TRUSTED_PROXY_COUNT): X-Forwarded-For only behind a
# proxy that sets it, counted from the right (core/api.py says why not django-ipware's way).
AXES_CLIENT_IP_CALLABLE = "core.api.client_address"
# A sign-in's password is never written to the attempts' records.
AXES_SENSITIVE_PARAMETERS = ["password"]
# The attempts and lockouts are records in the admin; no log line at every start.
AXES_VERBOSE = False

# --- Two-factor sign-in for staff (django-otp; accounts/two_factor.py) -----------------------
# Staff who may move money sign in with a password and a code from an authenticator app. An
# enrolment link (`manage.py two_factor_link <email>`) is good for TWO_FACTOR_LINK_MAX_AGE_HOURS.
TWO_FACTOR_LINK_MAX_AGE_HOURS = env.int("TWO_FACTOR_LINK_MAX_AGE_HOURS", default=24)
# The name the authenticator app shows beside the codes.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Payments back office")
# The devices' pages in the admin never show a secret or its QR code (a superuser's screen
# shared in a call would give the second factor away).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# --- OpenAPI schema (drf-spectacular) ---------------------------------------------------------
# Generated from the views at /api/schema/, read at /api/docs/ (Swagger UI) and /api/redoc/.
# The shared pieces every API view's annotations use are in core/openapi.py.
SPECTACULAR_SETTINGS = {
    # 3.1: a nullable object (a payment's `card`, `next_action`) is `oneOf [object, null]`,
    # which every validator reads the same; 3.0's `nullable` beside `allOf` is read differently.
    "OAS_VERSION": "3.1.0",
    # Swagger UI and Redoc from drf-spectacular-sidecar's static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "TITLE": "Payment service API",
    "VERSION": "1.0.0",
    "DESCRIPTION": """Pay for orders and top up the caller's balance, and read payments back.

## Authentication
Every `/api/v1/` endpoint needs a signed-in caller. Send `Authorization: Token <key>` (a DRF
token: `bin/run` prints the demo customer's) or, where Cognito is set up, `Authorization: Bearer
<JWT>` (an Amazon Cognito token). A browser signed in to the site is accepted too (session
cookie, with the CSRF token on writes). No credentials, or bad ones, answer **401**.

## Idempotency
`POST /api/v1/payments/` takes an optional `Idempotency-Key` header (up to 255 characters, e.g.
a UUID). A retry with the same key and the same body returns the first payment instead of
creating another; the same key with a different body answers **422** `idempotency_key_reused`.

## Errors
Every error has one shape: `{"code": ..., "message": ..., "fields": {...}}`. `code` is stable and
meant for programs (`invalid`, `not_authenticated`, `permission_denied`, `not_found`,
`throttled`, ...), `message` is for people, and `fields` maps each field at fault to its
messages: nested fields dotted (`card.number`), errors not tied to one field under
`non_field_errors`, `{}` when no field is at fault.

## Money
Amounts are decimal **strings** with two places (`"960.00"`), always beside their currency, so
no client reads them into a float. A request may send a string or a JSON number: it is read
exactly, never through a float.

## Lists
Lists come newest first in cursor pages, `{"next", "previous", "results"}`: follow `next` until
it is `null`. `page_size` asks for up to 100 items a page (default 25). A cursor is opaque: one
that was not handed out answers 404.

## Rate limits
Requests are counted per caller; one over the limit answers **429** `throttled`, with a
`Retry-After` header.
""",
    # Requests and responses get components of their own (`PaymentRequest`, `Payment`): a
    # write-only card number never shows up in a response schema, nor a read-only id in a request.
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The documentation is public: a client reads it before it has credentials.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # One name per choice set, whatever the field is called (`currency`, `balance_currency`),
    # and stable when another serializer adds a `status` or `method` with other choices.
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.OrderStatus",
        "PaymentStatusEnum": "payments.models.PaymentStatus",
        "PaymentMethodEnum": "payments.models.PaymentMethod",
        "GatewayEnum": "gateways.models.Gateway",
        "CurrencyEnum": "core.models.Currency",
        # What a new payment may name: a subset of the gateways and of the methods.
        "PaymentGatewayEnum": "payments.api.serializers.API_GATEWAYS",
        "EcpayMethodEnum": "payments.services.ECPAY_METHODS",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.openapi.document_unauthenticated",
        "core.openapi.document_shared_errors",
    ],
}

# --- Idempotency-Key (core/idempotency.py) ---------------------------------------------------
# How long a key's first answer is replayed; after that the key counts as new, and the hourly
# purge deletes it.
IDEMPOTENCY_KEY_TTL_SECONDS = env.int("IDEMPOTENCY_KEY_TTL_SECONDS", default=86400)
# A key still in progress after this long is taken over by the next request with it: the request
# that claimed it has died. Longer than any request takes (gateway timeouts included).
IDEMPOTENCY_KEY_LOCK_SECONDS = env.int("IDEMPOTENCY_KEY_LOCK_SECONDS", default=300)

# --- Cache ------------------------------------------------------------------------------------
# Prometheus metrics (core/metrics.py, README's Operations). /metrics on the web tier answers
# only `Authorization: Bearer <METRICS_TOKEN>`, and is off (404) while it is unset; a Celery
# worker serves its own on METRICS_PORT (0: off), to the internal network only.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_PORT = env.int("METRICS_PORT", default=0)

# API throttling counts here. Process-local by default; set CACHE_URL to Redis when more than
# one process serves the API, or each would count on its own.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# --- AWS --------------------------------------------------------------------------------------
# The region of every AWS service the code calls (SES, SNS, SQS); ECS and Lambda set AWS_REGION.
# Credentials are never settings: boto3 takes them from the task or function role.
AWS_REGION = env.str("AWS_REGION", default="ap-northeast-1")

# --- Celery -----------------------------------------------------------------------------------
# With no broker configured the default run still uses a real worker process: kombu's filesystem
# transport passes messages through a folder, so it needs no server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost/")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = Path(env.str("CELERY_FILESYSTEM_BROKER_DIR", default=str(VAR_DIR / "broker")))
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Producers write where the worker reads: one folder for both directions.
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # Seconds between looks at the folder (kombu's default, 1 s, adds a second per step).
        "polling_interval": 0.2,
    }
CELERY_TASK_ALWAYS_EAGER = False  # eager mode is for unit tests only (tests/settings.py)
# Tasks record their outcome in the database; nobody reads Celery results.
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged only after it ran, and put back if its worker dies: every task is safe
# to run twice, so redelivery is the failure mode we want.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup would close the database connection around every task; with this it
# does so once per that many tasks, and config.celery recycles connections as Django does for
# requests (CONN_MAX_AGE, health checks) in between.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# A queue per concern, so a flood of one (a notification backlog) never holds up another (the
# payments themselves). A worker started without -Q consumes all three; in production each
# concern can have workers of its own (`celery -A config worker -Q notifications`).
CELERY_TASK_QUEUES = [Queue("pipeline"), Queue("notifications"), Queue("maintenance")]
CELERY_TASK_DEFAULT_QUEUE = "pipeline"  # payments.tasks.payment_* and refund_process
CELERY_TASK_ROUTES = {
    "notifications.tasks.*": {"queue": "notifications"},
    "payments.tasks.operations_settle_unknown": {"queue": "maintenance"},
    "payments.tasks.ecpay_reconcile": {"queue": "maintenance"},
    "payments.tasks.payments_expire_pending": {"queue": "maintenance"},
    "payments.tasks.payments_resume_stranded": {"queue": "maintenance"},
    "payments.tasks.gateways_probe": {"queue": "maintenance"},
    "payments.tasks.ledger_check": {"queue": "maintenance"},
    "core.tasks.*": {"queue": "maintenance"},
    "gateways.tasks.*": {"queue": "maintenance"},
}
# A step calls a gateway with its own timeouts (seconds): one still running after minutes is
# stuck. The soft limit raises inside the task (its error path runs); the hard one kills it, and
# acks_late puts the task back for another worker.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=150)
# Sweeps ask the gateway about up to a hundred payments one after the other.
CELERY_TASK_ANNOTATIONS = {
    "payments.tasks.ecpay_reconcile": {"soft_time_limit": 1500, "time_limit": 1560},
    "payments.tasks.operations_settle_unknown": {"soft_time_limit": 1500, "time_limit": 1560},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    # Settle gateway operations left without an answer (timeouts, a worker that died mid-call).
    "settle-unknown-operations": {
        "task": "payments.tasks.operations_settle_unknown",
        "schedule": 60.0,
    },
    # Recover lost ECPay notifications by asking QueryTradeInfo.
    "reconcile-ecpay": {
        "task": "payments.tasks.ecpay_reconcile",
        "schedule": 600.0,
    },
    # Retry notifications whose channel failed.
    "retry-failed-notifications": {
        "task": "notifications.tasks.notifications_retry_failed",
        "schedule": 300.0,
    },
    # Resume payments whose pipeline message never ran (the broker was down when it was queued).
    "resume-stranded-payments": {
        "task": "payments.tasks.payments_resume_stranded",
        "schedule": 60.0,
    },
    # Probe the gateways their circuit breaker paused; resume those that answer.
    "probe-tripped-gateways": {
        "task": "payments.tasks.gateways_probe",
        "schedule": 30.0,
    },
    # Expire payments nobody paid (EXPIRE_PENDING_AFTER_MINUTES; ECPay codes after their deadline).
    "expire-pending-payments": {
        "task": "payments.tasks.payments_expire_pending",
        "schedule": 900.0,
    },
    # Delete Idempotency-Keys past IDEMPOTENCY_KEY_TTL_SECONDS.
    "purge-idempotency-keys": {
        "task": "core.tasks.idempotency_keys_purge",
        "schedule": 3600.0,
    },
    # Delete refused callbacks about no payment, past CALLBACK_REFUSED_RETENTION_DAYS.
    "purge-refused-callbacks": {
        "task": "gateways.tasks.callbacks_purge_refused",
        "schedule": 3600.0,
    },
    # Every balance against its ledger: the metric payments_ledger_mismatches and its alert.
    "check-ledger": {
        "task": "payments.tasks.ledger_check",
        "schedule": 3600.0,
    },
}
# Refused callbacks about no payment (forgeries, junk) are kept this long to investigate, then
# deleted; a callback about a payment is its evidence, kept with it.
CALLBACK_REFUSED_RETENTION_DAYS = env.int("CALLBACK_REFUSED_RETENTION_DAYS", default=90)

# --- Logging ----------------------------------------------------------------------------------
# One line a record on stderr: JSON in production (CloudWatch), plain text to read on a
# terminal. Every record, whoever logs it, passes the redaction filter (no card number, CVC or
# secret) and carries the request, task and payment it belongs to (core/logging.py).
LOG_FORMAT = env.str("DJANGO_LOG_FORMAT", default="plain" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "core.logging.RedactFilter"},
        "context": {"()": "core.logging.ContextFilter"},
    },
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(task_id)s "
            "payment=%(payment_id)s] %(message)s"
        },
        "json": {"()": "core.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact", "context"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
}
# The worker logs through the handler above too, not Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Gateways ---------------------------------------------------------------------------------
# The simulators (/simulators/...) stand in for the gateways on one machine. Never in production.
SIMULATORS_ENABLED = env.bool("SIMULATORS_ENABLED", default=DEBUG)
# The benchmark's ceiling endpoints (/bench/..., bench/ceilings.py): `make bench` only, never
# production.
BENCH_ENDPOINTS_ENABLED = env.bool("BENCH_ENDPOINTS_ENABLED", default=False)

# Card provider (seed 002's PROVIDER_EXAMPLE_REQUEST_URI). The development default is the
# simulator as bin/run serves it, in a process of its own.
CARD_PROVIDER_URL = env.str(
    "CARD_PROVIDER_URL",
    default=_DEVELOPMENT_ENDPOINTS["CARD_PROVIDER_URL"] if DEBUG else "",
)
CARD_PROVIDER_API_KEY = env.str(
    "CARD_PROVIDER_API_KEY", default=_development_default("CARD_PROVIDER_API_KEY")
)
CARD_PROVIDER_CONNECT_TIMEOUT_SECONDS = env.float(
    "CARD_PROVIDER_CONNECT_TIMEOUT_SECONDS", default=3.0
)
CARD_PROVIDER_TIMEOUT_SECONDS = env.float("CARD_PROVIDER_TIMEOUT_SECONDS", default=10.0)
# Simulator only: share of charges that fail with a transient error at random (seed 000: 0.3),
# and how long a "timeout" test card makes the caller wait (longer than the timeout above).
CARD_SIMULATOR_TRANSIENT_FAILURE_RATE = env.float(
    "CARD_SIMULATOR_TRANSIENT_FAILURE_RATE", default=0.0
)
CARD_SIMULATOR_SLOW_SECONDS = env.float("CARD_SIMULATOR_SLOW_SECONDS", default=15.0)

# --- Payment pipeline -------------------------------------------------------------------------
# Transient gateway errors are retried PIPELINE_RETRY_MAX times, the first after
# PIPELINE_RETRY_DELAY_SECONDS, each next one PIPELINE_RETRY_BACKOFF times longer, plus up to
# PIPELINE_RETRY_JITTER_SECONDS at random so retries of many payments do not arrive together.
PIPELINE_RETRY_MAX = env.int("PIPELINE_RETRY_MAX", default=3)
PIPELINE_RETRY_DELAY_SECONDS = env.float("PIPELINE_RETRY_DELAY_SECONDS", default=5.0)
PIPELINE_RETRY_BACKOFF = env.float("PIPELINE_RETRY_BACKOFF", default=2.0)
PIPELINE_RETRY_JITTER_SECONDS = env.float("PIPELINE_RETRY_JITTER_SECONDS", default=1.0)
# While a gateway is paused, its payments look again this often.
PIPELINE_PAUSED_RECHECK_SECONDS = env.float("PIPELINE_PAUSED_RECHECK_SECONDS", default=30.0)
# A gateway's circuit breaker (payments/services/breaker.py): this many transient failures
# within the window pause the gateway by itself and tell staff; every GATEWAY_BREAKER_PROBE_SECONDS
# a probe asks it something harmless, and it resumes once it answers.
GATEWAY_BREAKER_FAILURES = env.int("GATEWAY_BREAKER_FAILURES", default=10)
GATEWAY_BREAKER_WINDOW_SECONDS = env.int("GATEWAY_BREAKER_WINDOW_SECONDS", default=60)
GATEWAY_BREAKER_PROBE_SECONDS = env.int("GATEWAY_BREAKER_PROBE_SECONDS", default=60)

# A payment waiting this long for a pipeline step that should have run (its message never reached
# the broker, or was lost) is resumed by the stranded-payment sweep. Longer than any wait the
# pipeline makes on purpose (checked below).
PIPELINE_STRANDED_AFTER_SECONDS = env.int("PIPELINE_STRANDED_AFTER_SECONDS", default=300)

# Redis and SQS hand an unacknowledged message (acks_late) to another worker after this many
# seconds. A retry or a paused gateway's recheck waits on the worker as an unacknowledged message
# with a countdown, so this must be longer than the longest of those waits and of the longest
# task, or the message would be delivered twice while it waits.
CELERY_VISIBILITY_TIMEOUT_SECONDS = env.int("CELERY_VISIBILITY_TIMEOUT_SECONDS", default=3600)
_longest_pipeline_wait = max(
    PIPELINE_RETRY_DELAY_SECONDS * PIPELINE_RETRY_BACKOFF ** max(PIPELINE_RETRY_MAX - 1, 0)
    + PIPELINE_RETRY_JITTER_SECONDS,
    PIPELINE_PAUSED_RECHECK_SECONDS,
    CELERY_TASK_TIME_LIMIT,
)
_longest_wait = max(
    _longest_pipeline_wait,
    *(limits["time_limit"] for limits in CELERY_TASK_ANNOTATIONS.values()),
)
if _longest_wait >= CELERY_VISIBILITY_TIMEOUT_SECONDS:
    raise ImproperlyConfigured(
        f"CELERY_VISIBILITY_TIMEOUT_SECONDS ({CELERY_VISIBILITY_TIMEOUT_SECONDS}) must exceed "
        f"the longest retry wait or task ({_longest_wait:.0f} s)."
    )
if _longest_pipeline_wait >= PIPELINE_STRANDED_AFTER_SECONDS:
    raise ImproperlyConfigured(
        f"PIPELINE_STRANDED_AFTER_SECONDS ({PIPELINE_STRANDED_AFTER_SECONDS}) must exceed the "
        f"longest retry wait or pipeline task ({_longest_pipeline_wait:.0f} s)."
    )
# SQS only: every queue's URL without its concern (deploy/sqs-queues.yaml's output). Each queue
# has a dead-letter queue in its redrive policy (`manage.py sqs_dead_letters`).
CELERY_SQS_QUEUE_URL_PREFIX = env.str("CELERY_SQS_QUEUE_URL_PREFIX", default="")
if CELERY_BROKER_URL.startswith("redis"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT_SECONDS}
elif CELERY_BROKER_URL.startswith("sqs"):
    # SQS (CELERY_BROKER_URL=sqs://): the queues exist already (docs/deploy.md), one per concern,
    # named by a URL prefix: ".../123456789012/payment-service-production-" + "pipeline". Listing
    # or creating queues at run time would need wider IAM rights, and a typo would make a queue
    # nobody consumes; with predefined queues an unknown queue name is an error instead.
    if not CELERY_SQS_QUEUE_URL_PREFIX:
        raise ImproperlyConfigured(
            "CELERY_BROKER_URL=sqs:// needs CELERY_SQS_QUEUE_URL_PREFIX (docs/deploy.md)."
        )
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "region": AWS_REGION,
        "predefined_queues": {
            queue.name: {"url": CELERY_SQS_QUEUE_URL_PREFIX + queue.name}
            for queue in CELERY_TASK_QUEUES
        },
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT_SECONDS,
        # Long polling: an idle worker asks SQS every 20 s instead of every second (each
        # request is billed), yet a message arriving meanwhile is handed over at once.
        "wait_time_seconds": 20,
        "polling_interval": 0,
    }
    # SQS has no broadcast: no remote-control (pidbox) queues, no event queues, which it could
    # only emulate by creating queues at run time.
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
    CELERY_WORKER_SEND_TASK_EVENTS = False
# Gateway operations with no answer for this long are settled by asking the gateway.
OPERATION_SETTLE_AFTER_SECONDS = env.int("OPERATION_SETTLE_AFTER_SECONDS", default=60)
# The back office's dashboard calls a payment pending or processing this long "stuck".
STUCK_PAYMENT_MINUTES = env.int("STUCK_PAYMENT_MINUTES", default=30)
# A refund that takes its payment's refunds (made, pending at the gateway, waiting for approval)
# above this amount (in the payment's currency) waits for a second member of staff with
# `payments.approve_refund`; at or below it, it is made at once.
REFUND_APPROVAL_THRESHOLD = Decimal(env.str("REFUND_APPROVAL_THRESHOLD", default="10000"))
# How much money may move (payments.limits), in the payment's currency: one order payment at
# most, one deposit at most, and what a deposit may take a balance to. ECPay's own range for
# each way to pay applies too. Each must stay below a thousandth of what a money column holds
# (payments.checks), so money credited beyond them still fits.
PAYMENT_MAX_AMOUNT = Decimal(env.str("PAYMENT_MAX_AMOUNT", default="1000000"))
DEPOSIT_MAX_AMOUNT = Decimal(env.str("DEPOSIT_MAX_AMOUNT", default="100000"))
BALANCE_MAX_AMOUNT = Decimal(env.str("BALANCE_MAX_AMOUNT", default="1000000"))
# `manage.py expire_pending` expires payments pending longer than this by default (ECPay ATM and
# store payments never before their code's deadline).
EXPIRE_PENDING_AFTER_MINUTES = env.int("EXPIRE_PENDING_AFTER_MINUTES", default=1440)

# --- Notifications ----------------------------------------------------------------------------
# In development a mailbox of files under var/mail/, one log line per message, read at /dev/mail/
# (notifications/mailbox.py); Amazon SES in production: EMAIL_BACKEND=django_ses.SESBackend.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default=published.DEVELOPMENT_EMAIL_BACKEND)
# Where the development mailbox (and Django's filebased backend) writes messages.
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="payments@example.com")
# django-ses reads its region from here.
AWS_SES_REGION_NAME = AWS_REGION
# Topic that payment events are published to; empty: SNS is off.
NOTIFICATIONS_SNS_TOPIC_ARN = env.str("NOTIFICATIONS_SNS_TOPIC_ARN", default="")

# --- ECPay ------------------------------------------------------------------------------------
# The public stage merchant is the development default (docs/ecpay.md); production sets its own.
ECPAY_MERCHANT_ID = env.str("ECPAY_MERCHANT_ID", default=_development_default("ECPAY_MERCHANT_ID"))
ECPAY_HASH_KEY = env.str("ECPAY_HASH_KEY", default=_development_default("ECPAY_HASH_KEY"))
ECPAY_HASH_IV = env.str("ECPAY_HASH_IV", default=_development_default("ECPAY_HASH_IV"))
# Where the customer's browser posts the checkout form, and where QueryTradeInfo is asked.
# Stage: https://payment-stage.ecpay.com.tw, production: https://payment.ecpay.com.tw. The stage
# hosts are not reachable from here: development points at the app's own ECPay simulator.
ECPAY_BASE_URL = env.str(
    "ECPAY_BASE_URL",
    default=_DEVELOPMENT_ENDPOINTS["ECPAY_BASE_URL"] if DEBUG else "",
)
# A deployment that talks to ECPay's stage (a staging site, not production): ECPay's public stage
# merchants are allowed then, and ECPAY_BASE_URL must be the stage host (core/checks.py).
ECPAY_STAGE = env.bool("ECPAY_STAGE", default=False)
# Our own address as ECPay's servers and the customer's browser reach it (ReturnURL etc.).
# In development, the address bin/run serves on (PORT), so a command run in another shell
# (send_wallet_callback, a link it prints) reaches the same server.
SITE_URL = env.str("SITE_URL", default=_DEVELOPMENT_ENDPOINTS["SITE_URL"] if DEBUG else "")
# Reconciliation asks ECPay about a card payment still pending after this many minutes
# (ECPay: about 10 minutes after payment), and about ATM / store codes after their deadline,
# then again every ECPAY_RECONCILE_REASK_MINUTES until ECPay has settled the payment or its
# code is past any result (payments/ecpay/reconciliation.py).
ECPAY_RECONCILE_CARD_AFTER_MINUTES = env.int("ECPAY_RECONCILE_CARD_AFTER_MINUTES", default=10)
ECPAY_RECONCILE_REASK_MINUTES = env.int("ECPAY_RECONCILE_REASK_MINUTES", default=30)
# How long an issued code stays valid, each in the unit and range ECPay takes (gateways/checks.py
# refuses one out of range): ATM ExpireDate in days (1-60), CVS StoreExpireDate in minutes
# (1-43200), BARCODE StoreExpireDate in days (1-30).
ECPAY_ATM_EXPIRE_DAYS = env.int("ECPAY_ATM_EXPIRE_DAYS", default=3)
ECPAY_CVS_EXPIRE_MINUTES = env.int("ECPAY_CVS_EXPIRE_MINUTES", default=10080)
ECPAY_BARCODE_EXPIRE_DAYS = env.int("ECPAY_BARCODE_EXPIRE_DAYS", default=7)
# ECPay reports a store barcode payment about two days after the customer paid: a barcode
# payment stays pending this long past its code's deadline, and is asked about until then.
ECPAY_BARCODE_RESULT_DELAY_HOURS = env.int("ECPAY_BARCODE_RESULT_DELAY_HOURS", default=72)
# Simulator only: seconds between redeliveries of a notification not answered 1|OK (ECPay: 5-15
# minutes), and how many redeliveries it makes (ECPay: up to 4 more that day).
ECPAY_SIMULATOR_REDELIVERY_SECONDS = env.float("ECPAY_SIMULATOR_REDELIVERY_SECONDS", default=300.0)
ECPAY_SIMULATOR_REDELIVERIES = env.int("ECPAY_SIMULATOR_REDELIVERIES", default=4)
# Simulator only: seconds after a barcode is paid before its result is sent (ECPay: about two
# days). Until then the trade page can send it early, and QueryTradeInfo says not paid.
ECPAY_SIMULATOR_BARCODE_RESULT_DELAY_SECONDS = env.float(
    "ECPAY_SIMULATOR_BARCODE_RESULT_DELAY_SECONDS", default=172800.0
)

# --- Wallet and bank app ----------------------------------------------------------------------
# Shared secrets the wallet and the bank app sign their callbacks with (HMAC-SHA256). The
# development defaults are for bin/run and the simulator command only; production sets its own.
WALLET_CALLBACK_SECRET = env.str(
    "WALLET_CALLBACK_SECRET", default=_development_default("WALLET_CALLBACK_SECRET")
)
BANK_APP_CALLBACK_SECRET = env.str(
    "BANK_APP_CALLBACK_SECRET", default=_development_default("BANK_APP_CALLBACK_SECRET")
)

# --- Content-Security-Policy (django-csp) -----------------------------------------------------
# Every page may load scripts, styles, images and fonts from this site only, and runs no inline
# script or style (the templates keep theirs in static/): an injected <script> or style="" does
# nothing even if escaping ever failed. Forms post here, or to ECPay's checkout (the customer's
# browser takes the signed form there); nothing may frame a page (clickjacking).
_ECPAY_ORIGIN = "{0.scheme}://{0.netloc}".format(urlsplit(ECPAY_BASE_URL)) if ECPAY_BASE_URL else ""
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        # A page that asks for the request's nonce (Redoc, which writes its styles as it
        # draws) lets in the styles it marks with it; no other page gets one.
        "style-src": [SELF, NONCE],
        # Swagger UI draws some of its icons as data: URLs.
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF, *([_ECPAY_ORIGIN] if _ECPAY_ORIGIN else [])],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

# OpenTelemetry tracing (core/tracing.py): on when an OTLP endpoint is set, in the variables
# OpenTelemetry defines (its exporter reads them too); off, nothing of it is loaded.
TRACING_ENABLED = bool(
    env.str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", default="")
    or env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
)
TRACING_SERVICE_NAME = env.str("OTEL_SERVICE_NAME", default="payment-service")

# Errors to Sentry when SENTRY_DSN is set (core/sentry.py): redacted as the logs are, and never
# given request bodies, local variables or cookies. Unset: nothing is sent, nothing is loaded.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="production")
# The release the errors belong to: the image's commit, set at build or deploy.
SENTRY_RELEASE = env.str("SENTRY_RELEASE", default="")
if SENTRY_DSN:
    from core.sentry import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=SENTRY_ENVIRONMENT,
        release=SENTRY_RELEASE,
        secrets=[
            SECRET_KEY,
            _database.get("PASSWORD", ""),
            DATABASE_APP_PASSWORD,
            CARD_PROVIDER_API_KEY,
            ECPAY_HASH_KEY,
            ECPAY_HASH_IV,
            WALLET_CALLBACK_SECRET,
            BANK_APP_CALLBACK_SECRET,
            METRICS_TOKEN,
        ],
    )
