"""Every write to gateway state kept here: the pause switches."""

from accounts.models import User
from gateways.models import GatewaySwitch


def gateway_set_paused(
    *, gateway: str, paused: bool, by: User | None, reason: str = ""
) -> GatewaySwitch:
    """Pause or unpause a gateway. Paused, its payments wait in the pipeline; none fails for it."""
    switch, _ = GatewaySwitch.objects.update_or_create(
        gateway=gateway, defaults={"paused": paused, "changed_by": by, "reason": reason}
    )
    return switch
