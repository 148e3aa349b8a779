from django.utils import timezone

from gateways.models import GatewaySwitch


def gateway_is_paused(gateway: str) -> bool:
    return GatewaySwitch.objects.filter(gateway=gateway, paused=True).exists()


def gateways_paused() -> list[str]:
    return list(GatewaySwitch.objects.filter(paused=True).values_list("gateway", flat=True))


def gateway_queries_blocked(gateway: str) -> bool:
    """Whether the gateway asked us to stop querying it for now (ECPay's 403)."""
    return GatewaySwitch.objects.filter(
        gateway=gateway, queries_blocked_until__gt=timezone.now()
    ).exists()
