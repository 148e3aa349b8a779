from gateways.models import GatewaySwitch


def gateway_is_paused(gateway: str) -> bool:
    return GatewaySwitch.objects.filter(gateway=gateway, paused=True).exists()
