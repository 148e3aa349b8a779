from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        # Registers the project's system checks (`manage.py check --deploy`).
        from core import checks

        # zappa starts the app with no entrypoint to run `manage.py check --deploy` first
        # (deploy/entrypoint.sh): the app refuses to load instead, so Lambda never serves with
        # a secret unset or published.
        if settings.DEPLOY_CHECK_ON_START:
            checks.deploy_checks_enforce()
        # Before the web server builds its middleware: Django's instrumentation adds its own.
        if settings.TRACING_ENABLED:
            from core.tracing import tracing_start

            tracing_start(service_name=settings.TRACING_SERVICE_NAME)
