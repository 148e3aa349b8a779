from django.contrib import admin

from gateways.models import GatewayCallback, GatewaySwitch


@admin.register(GatewayCallback)
class GatewayCallbackAdmin(admin.ModelAdmin[GatewayCallback]):
    list_display = (
        "pk",
        "gateway",
        "external_reference",
        "signature_valid",
        "outcome",
        "created_at",
    )
    list_filter = ("gateway", "outcome", "signature_valid")
    search_fields = ("external_reference",)


@admin.register(GatewaySwitch)
class GatewaySwitchAdmin(admin.ModelAdmin[GatewaySwitch]):
    list_display = ("gateway", "paused", "reason", "changed_by", "changed_at")
