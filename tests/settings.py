"""Settings for the test suite: the real settings, with what tests must control pinned down."""

import os

from core.published import DEVELOPMENT_DEFAULTS

# Only the environment bin/test sets counts, never a developer's .env.
os.environ["DJANGO_ENV_FILE"] = ""
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key")

from config.settings import *  # noqa: F403

DEBUG = False
# Development makes it (config/settings.py); the suite has DEBUG off, and WhiteNoise warns on
# every request without one.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
# The gateway simulators stand in for the outside world (routed only when this is set).
SIMULATORS_ENABLED = True
# With DEBUG off the settings default no gateway secret or endpoint: the suite runs with the
# development ones, as bin/run does (the processes it starts get them too: tests/processes.py).
WALLET_CALLBACK_SECRET = DEVELOPMENT_DEFAULTS["WALLET_CALLBACK_SECRET"]
BANK_APP_CALLBACK_SECRET = DEVELOPMENT_DEFAULTS["BANK_APP_CALLBACK_SECRET"]
CARD_PROVIDER_API_KEY = DEVELOPMENT_DEFAULTS["CARD_PROVIDER_API_KEY"]
ECPAY_MERCHANT_ID = DEVELOPMENT_DEFAULTS["ECPAY_MERCHANT_ID"]
ECPAY_HASH_KEY = DEVELOPMENT_DEFAULTS["ECPAY_HASH_KEY"]
ECPAY_HASH_IV = DEVELOPMENT_DEFAULTS["ECPAY_HASH_IV"]
CARD_PROVIDER_URL = DEVELOPMENT_DEFAULTS["CARD_PROVIDER_URL"]
ECPAY_BASE_URL = DEVELOPMENT_DEFAULTS["ECPAY_BASE_URL"]
SITE_URL = DEVELOPMENT_DEFAULTS["SITE_URL"]
# Hashing passwords properly is slow on purpose; tests need no protection.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Unit tests run tasks in-process; integration tests start a real worker on a real broker.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
