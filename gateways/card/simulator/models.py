"""The card simulator's state: what a provider would know of our tokens, charges and refunds.

Never a card number or CVC: a token keeps the card's brand, last four digits, expiry and script.
Registered through `gateways.models`, hence the explicit app label.
"""

from django.db import models
from django.db.models import F, Q

from core.models import ZERO, MoneyField, TimeStampedModel, currency_field
from gateways.card.simulator.cards import Outcome


class SimulatedCardToken(TimeStampedModel):
    token = models.CharField(max_length=64)
    brand = models.CharField(max_length=16)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField()
    exp_year = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=32, choices=Outcome.choices)
    # Charge attempts that still answer 503 before the outcome applies (the TRANSIENT_* cards).
    transient_failures_left = models.PositiveSmallIntegerField(default=0)

    class Meta:
        app_label = "gateways"
        constraints = [
            # Served by charges, which find the card by its token.
            models.UniqueConstraint(fields=["token"], name="card_sim_token_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.brand} •••• {self.last4}"


class SimulatedChargeStatus(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    DECLINED = "declined", "Declined"


class SimulatedCharge(TimeStampedModel):
    """One charge, declined ones included, so a repeat of its key answers the same way."""

    charge_id = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=64)
    card = models.ForeignKey(SimulatedCardToken, on_delete=models.PROTECT, related_name="+")
    amount = MoneyField()
    currency = currency_field()
    description = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=SimulatedChargeStatus.choices)
    decline_code = models.CharField(max_length=32, blank=True)
    refunded_amount = MoneyField(default=ZERO)

    class Meta:
        app_label = "gateways"
        constraints = [
            # Served by refunds, which find the charge by its id.
            models.UniqueConstraint(fields=["charge_id"], name="card_sim_charge_id_unique"),
            # One charge per key, and served by the lookup by key.
            models.UniqueConstraint(fields=["idempotency_key"], name="card_sim_charge_key_unique"),
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="card_sim_charge_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0, refunded_amount__lte=F("amount")),
                name="card_sim_charge_refund_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return self.charge_id


class SimulatedRefund(TimeStampedModel):
    refund_id = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=64)
    charge = models.ForeignKey(SimulatedCharge, on_delete=models.PROTECT, related_name="refunds")
    amount = MoneyField()
    currency = currency_field()

    class Meta:
        app_label = "gateways"
        constraints = [
            models.UniqueConstraint(fields=["refund_id"], name="card_sim_refund_id_unique"),
            # One refund per key, and served by the replay check.
            models.UniqueConstraint(fields=["idempotency_key"], name="card_sim_refund_key_unique"),
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="card_sim_refund_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.refund_id
