"""System checks of our own: `manage.py check --deploy` fails on what must never reach
production."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register


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
