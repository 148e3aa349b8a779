"""Values anyone can read: the development defaults published in this repository, the secret
keys its scripts and files run with, and the merchants ECPay publishes for its stage.

A secret among them protects nothing, so production never falls back to one
(config/settings.py uses DEVELOPMENT_DEFAULTS only with DJANGO_DEBUG on) and refuses to start
with one (core/checks.py).
"""

from typing import Final

# The port bin/run serves on when PORT is unset.
DEVELOPMENT_PORT: Final = 8000


def development_endpoints(port: int = DEVELOPMENT_PORT) -> dict[str, str]:
    """The simulators and the site where bin/run serves them on `port`: the card provider's in a
    process of its own (port + 100), ECPay's in the web server itself."""
    return {
        "CARD_PROVIDER_URL": f"http://127.0.0.1:{port + 100}/simulators/card",
        "ECPAY_BASE_URL": f"http://127.0.0.1:{port}/simulators/ecpay",
        "SITE_URL": f"http://127.0.0.1:{port}",
    }


# What the gateways' secrets and endpoints are when unset, in development only (DJANGO_DEBUG on,
# as bin/run's .env has it; config/settings.py moves the endpoints with PORT). The tests set the
# same values explicitly (tests/settings.py).
DEVELOPMENT_DEFAULTS: Final[dict[str, str]] = {
    "WALLET_CALLBACK_SECRET": "dev-only-wallet-secret",
    "BANK_APP_CALLBACK_SECRET": "dev-only-bank-app-secret",
    "CARD_PROVIDER_API_KEY": "sim_dev_key",
    # ECPay's public stage merchant (below), which the ECPay simulator plays ECPay for.
    "ECPAY_MERCHANT_ID": "3002607",
    "ECPAY_HASH_KEY": "pwFHCqoQZGmho4w6",
    "ECPAY_HASH_IV": "EkRm7iFT261dpevs",
    **development_endpoints(),
}

# What EMAIL_BACKEND is when unset: the development mailbox (notifications/mailbox.py), which
# delivers nothing, so production refuses it (core/checks.py).
DEVELOPMENT_EMAIL_BACKEND: Final = "notifications.mailbox.MailboxBackend"

# Every value of a gateway secret that starts with this is a development one (.env.example,
# deploy/compose.env, the defaults above).
DEVELOPMENT_SECRET_PREFIX: Final = "dev-only"
# Development secrets that do not start with it.
DEVELOPMENT_SECRETS: Final = frozenset({"sim_dev_key"})

# DJANGO_SECRET_KEY values written in this repository: .env.example's, the test suite's, the
# image build's, the compose stack's, bin/fuzz-api's, bin/bench's and bin/lib.sh's.
PUBLISHED_SECRET_KEYS: Final = frozenset(
    {
        "dev-only-insecure-secret-key-change-me",
        "tests-only-secret-key",
        "build-only",
        "compose-local-only-not-a-secret-never-use-elsewhere",
        "fuzz-api-only-secret-key",
        "bench-only-secret-key",
        "compilemessages",
    }
)
# Development keys (.env.example's), and the placeholder `django-admin startproject` writes.
PUBLISHED_SECRET_KEY_PREFIXES: Final = ("dev-only", "django-insecure")

# ECPay's public stage merchants and their keys: good on payment-stage.ecpay.com.tw only, and
# there for anyone. Sources: developers.ecpay.com.tw/?p=16447 (3002607, the payment stage
# merchant; 3002599, the platform merchant), ECPay's and AllPay's SDK examples (2000132 and
# 2000214 with 5294y06JbISpM5x9 / v77hoKGq4kWxNNIS), and the CheckMacValue example of
# developers.ecpay.com.tw/?p=38242 (e-invoice stage, ejCk326UnaZWKisg / q9jcZX8Ib9LM8wYk, which
# SDK examples use with 2000132 and 2000214).
ECPAY_STAGE_MERCHANT_IDS: Final = frozenset({"3002607", "3002599", "2000132", "2000214"})
ECPAY_STAGE_HASH_KEYS: Final = frozenset(
    {"pwFHCqoQZGmho4w6", "spPjZn66i0OhqJsQ", "5294y06JbISpM5x9", "ejCk326UnaZWKisg"}
)
ECPAY_STAGE_HASH_IVS: Final = frozenset(
    {"EkRm7iFT261dpevs", "hT5OJckN45isQTTs", "v77hoKGq4kWxNNIS", "q9jcZX8Ib9LM8wYk"}
)
