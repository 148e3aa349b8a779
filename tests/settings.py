"""Settings for the test suite: the real settings, with what tests must control pinned down."""

import os

# Only the environment bin/test sets counts, never a developer's .env.
os.environ["DJANGO_ENV_FILE"] = ""
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key")

from config.settings import *  # noqa: F403

DEBUG = False
# The gateway simulators stand in for the outside world (routed only when this is set).
SIMULATORS_ENABLED = True
# Hashing passwords properly is slow on purpose; tests need no protection.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Unit tests run tasks in-process; integration tests start a real worker on a real broker.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
