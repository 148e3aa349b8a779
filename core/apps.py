from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # Registers the project's system checks (`manage.py check --deploy`).
        from core import checks  # noqa: F401
