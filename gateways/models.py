from django.db import models
from django.utils.translation import gettext_lazy as _


class Gateway(models.TextChoices):
    """Where a payment's money moves. `balance` is the customer's own stored value."""

    ECPAY = "ecpay", _("ECPay")
    CARD = "card", _("Card provider")
    WALLET = "wallet", _("Wallet")
    BANK_APP = "bank_app", _("Bank app")
    BALANCE = "balance", _("Balance")


class CallbackOutcome(models.TextChoices):
    RECEIVED = "received", "Received, not yet processed"
    ACCEPTED = "accepted", "Accepted"
    DUPLICATE = "duplicate", "Duplicate of one already applied"
    REJECTED = "rejected", "Rejected"


class GatewayCallback(models.Model):
    """One inbound notification from a gateway, exactly as it arrived.

    Written before anything else is done with the request, so nothing a gateway sends is ever
    lost: rejected and duplicate deliveries are kept too, with the reason.
    """

    gateway = models.CharField(max_length=16, choices=Gateway.choices, verbose_name=_("gateway"))
    # The gateway's own id of what the callback is about (ECPay MerchantTradeNo, wallet paymentId).
    external_reference = models.CharField(
        max_length=64, blank=True, verbose_name=_("external reference")
    )
    body = models.TextField(blank=True, verbose_name=_("body"))
    content_type = models.CharField(max_length=128, blank=True, verbose_name=_("content type"))
    headers = models.JSONField(default=dict, blank=True, verbose_name=_("headers"))
    remote_addr = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("remote addr"))
    # None until checked; False is kept as evidence of a forged or corrupted delivery.
    signature_valid = models.BooleanField(null=True, verbose_name=_("signature valid"))
    outcome = models.CharField(
        max_length=16,
        choices=CallbackOutcome.choices,
        default=CallbackOutcome.RECEIVED,
        verbose_name=_("outcome"),
    )
    outcome_reason = models.CharField(max_length=255, blank=True, verbose_name=_("outcome reason"))
    payment = models.ForeignKey(
        "payments.Payment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="callbacks",
        verbose_name=_("payment"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    processed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("processed at"))

    class Meta:
        verbose_name = _("gateway callback")
        verbose_name_plural = _("gateway callbacks")
        # Given to managers (accounts.roles), never implied by being staff.
        permissions = [("replay_callback", "Can replay gateway callbacks")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(gateway__in=Gateway.values), name="callback_gateway_known"
            ),
            models.CheckConstraint(
                condition=models.Q(outcome__in=CallbackOutcome.values),
                name="callback_outcome_known",
            ),
        ]
        indexes = [
            # A callback's deliveries by the gateway's reference: dedupe and staff search.
            models.Index(fields=["external_reference", "gateway"], name="callback_reference_idx"),
            # Staff queues: rejected or unprocessed callbacks, newest first.
            models.Index(fields=["outcome", "created_at"], name="callback_outcome_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_gateway_display()} callback {self.pk} ({self.outcome})"


class GatewaySwitch(models.Model):
    """One gateway's pause switches (seed 002's "restrict processing"): staff's, and the
    circuit breaker's.

    While a gateway is paused, by staff or by its breaker, its payments wait in the pipeline
    and look again later; none fails for it. The breaker trips by itself after
    GATEWAY_BREAKER_FAILURES transient failures within GATEWAY_BREAKER_WINDOW_SECONDS, and closes
    when a probe finds the gateway answering again; staff's pause wins over it (a probe never
    unpauses what staff paused), and staff's unpause closes it. No row means the gateway runs.
    """

    gateway = models.CharField(max_length=16, choices=Gateway.choices, verbose_name=_("gateway"))
    paused = models.BooleanField(default=False, verbose_name=_("paused"))
    reason = models.CharField(max_length=255, blank=True, verbose_name=_("reason"))
    # The breaker: tripped since then (None: closed), the transient failures counted since
    # `failures_since` (the window's start), and when a probe last asked the gateway.
    tripped_at = models.DateTimeField(null=True, blank=True, verbose_name=_("tripped at"))
    failures = models.PositiveIntegerField(default=0, verbose_name=_("failures"))
    failures_since = models.DateTimeField(null=True, blank=True, verbose_name=_("failures since"))
    probed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("probed at"))
    # The gateway asked us to stop querying it (ECPay: HTTP 403) until then.
    queries_blocked_until = models.DateTimeField(
        null=True, blank=True, verbose_name=_("queries blocked until")
    )
    changed_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    changed_at = models.DateTimeField(auto_now=True, verbose_name=_("changed at"))

    class Meta:
        verbose_name = _("gateway switch")
        verbose_name_plural = _("gateway switches")
        constraints = [
            models.UniqueConstraint(fields=["gateway"], name="gateway_switch_one_per_gateway"),
        ]

    def __str__(self) -> str:
        if self.paused:
            state = "paused"
        elif self.tripped_at is not None:
            state = "paused by its circuit breaker"
        else:
            state = "running"
        return f"{self.get_gateway_display()}: {state}"


# The simulators' models live in their own packages; importing them here is what makes Django
# register them (and migrate them) as part of this app.
from gateways.card.simulator.models import SimulatedCardToken, SimulatedCharge, SimulatedRefund  # noqa: E402, F401
from gateways.ecpay.simulator.models import (  # noqa: E402, F401
    SimulatedEcpayDelivery,
    SimulatedEcpayFaults,
    SimulatedEcpayTrade,
)
