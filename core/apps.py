from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        # Registers the project's system checks (`manage.py check --deploy`).
        from core import checks
        from core.requests import text_charsets_only

        # Before any request is built: a charset that decodes no text crashed Django's own
        # request setup (core/requests.py).
        text_charsets_only()

        # zappa starts the app with no entrypoint to run `manage.py check --deploy` first
        # (deploy/entrypoint.sh): the app refuses to load instead, so Lambda never serves with
        # a secret unset or published.
        if settings.DEPLOY_CHECK_ON_START:
            checks.deploy_checks_enforce()
        # Every statement's time, on every connection as it opens (core/metrics.py).
        connection_created.connect(_time_statements, dispatch_uid="core.metrics.database")
        # Before the web server builds its middleware: Django's instrumentation adds its own.
        if settings.TRACING_ENABLED:
            from core.tracing import tracing_start

            tracing_start(service_name=settings.TRACING_SERVICE_NAME)


def _time_statements(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    from core.metrics import database_timed

    # First: `connection.execute_wrapper(...)` pops the last wrapper when its block ends, and a
    # connection opened inside such a block must not have ours popped in its place.
    if database_timed not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, database_timed)
