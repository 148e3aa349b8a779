from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = _("Payments")

    def ready(self) -> None:
        # Registers the app's system checks.
        # Registers the worker's tasks in every process, the web server's too: the application
        # queues them by name (payments.queue), and a name must be registered to be queued.
        # The gauges /metrics reads from the database and the broker at scrape time.
        from core.metrics import register_state_collector
        from payments import (
            checks,  # noqa: F401
            tasks,  # noqa: F401
        )
        from payments.metrics import PaymentsStateCollector

        register_state_collector(PaymentsStateCollector)
