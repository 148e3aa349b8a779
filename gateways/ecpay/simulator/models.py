"""The ECPay simulator's state: the trades it took, every notification it tried to deliver, and
the faults it is told to inject. Registered through `gateways.models`, hence the app label.
"""

from typing import Any

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from core.models import ZERO, MoneyField, TimeStampedModel


class SimulatedEcpayTradeStatus(models.TextChoices):
    AWAITING = "awaiting", "Awaiting the customer"
    CODE_ISSUED = "code_issued", "ATM account or store code issued"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"


class SimulatedEcpayTrade(TimeStampedModel):
    """One checkout form ECPay accepted. `created_at` is ECPay's TradeDate."""

    merchant_trade_no = models.CharField(max_length=20)
    # ECPay's own id of the trade.
    trade_no = models.CharField(max_length=20)
    merchant_id = models.CharField(max_length=10)
    # Whole TWD, as ECPay takes it.
    amount = MoneyField()
    item_name = models.CharField(max_length=400)
    trade_desc = models.CharField(max_length=200)
    # ChoosePayment as posted: Credit, ATM, CVS, BARCODE or ALL.
    method = models.CharField(max_length=16)
    return_url = models.CharField(max_length=200)
    order_result_url = models.CharField(max_length=200, blank=True)
    client_back_url = models.CharField(max_length=200, blank=True)
    payment_info_url = models.CharField(max_length=200, blank=True)
    custom_field1 = models.CharField(max_length=50, blank=True)
    custom_field2 = models.CharField(max_length=50, blank=True)
    custom_field3 = models.CharField(max_length=50, blank=True)
    custom_field4 = models.CharField(max_length=50, blank=True)
    # How long an issued code stays valid, as posted or ECPay's default: ATM ExpireDate (days),
    # StoreExpireDate (minutes for CVS, days for BARCODE).
    atm_expire_days = models.PositiveSmallIntegerField()
    store_expire_date = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16,
        choices=SimulatedEcpayTradeStatus.choices,
        default=SimulatedEcpayTradeStatus.AWAITING,
    )
    # Set once the customer chose how to pay, e.g. Credit_CreditCard, ATM_TAISHIN, CVS_CVS.
    payment_type = models.CharField(max_length=32, blank=True)
    payment_date = models.DateTimeField(null=True, blank=True)
    # BARCODE: paid at the store, and ECPay tells the merchant about two days later
    # (ECPAY_SIMULATOR_BARCODE_RESULT_DELAY_SECONDS). Until then the result is held: no paid
    # notification, and QueryTradeInfo says not paid. None once it is sent.
    result_due_at = models.DateTimeField(null=True, blank=True)
    # The payment code issued for ATM (bank code and account), CVS (payment number) or BARCODE.
    bank_code = models.CharField(max_length=3, blank=True)
    v_account = models.CharField(max_length=16, blank=True)
    payment_no = models.CharField(max_length=14, blank=True)
    barcode1 = models.CharField(max_length=20, blank=True)
    barcode2 = models.CharField(max_length=20, blank=True)
    barcode3 = models.CharField(max_length=20, blank=True)
    # As ECPay writes it: yyyy/MM/dd for ATM, yyyy/MM/dd HH:mm:ss for CVS and BARCODE.
    code_expire_date = models.CharField(max_length=19, blank=True)
    # What DoAction has refunded of a paid card trade, in whole TWD.
    refunded_amount = MoneyField(default=ZERO)
    # The out_of_order fault kept the code notification back, to send it after the paid one.
    code_notification_held = models.BooleanField(default=False)

    class Meta:
        app_label = "gateways"
        constraints = [
            # ECPay never takes a MerchantTradeNo twice; also serves QueryTradeInfo's lookup.
            models.UniqueConstraint(
                fields=["merchant_trade_no"], name="ecpay_sim_merchant_trade_no_unique"
            ),
            # Served by the buttons, which name the trade by ECPay's id.
            models.UniqueConstraint(fields=["trade_no"], name="ecpay_sim_trade_no_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="ecpay_sim_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=SimulatedEcpayTradeStatus.values),
                name="ecpay_sim_trade_status_known",
            ),
        ]

    def __str__(self) -> str:
        return self.merchant_trade_no


class SimulatedEcpayDelivery(models.Model):
    """One attempt to deliver a notification, with the answer it got."""

    trade = models.ForeignKey(
        SimulatedEcpayTrade, on_delete=models.CASCADE, related_name="deliveries"
    )
    url = models.CharField(max_length=200)
    fields = models.JSONField()
    # None when nothing answered (refused connection, timeout).
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # The answer's text, or why there was none.
    answer = models.TextField(blank=True)
    # 1 for the first delivery, then one more for each redelivery of the same notification.
    attempt = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "gateways"

    def __str__(self) -> str:
        return f"{self.url} attempt {self.attempt}: {self.status_code}"


class SimulatedEcpayFaults(models.Model):
    """The faults the simulator injects, one row for the whole simulator. No row: none."""

    ONLY_ROW = 1

    # Not auto-incremented: MariaDB allows no CHECK on such a column, and there is one row.
    id = models.PositiveSmallIntegerField(primary_key=True)
    # Each notification is sent this many extra times.
    duplicate_deliveries = models.PositiveSmallIntegerField(default=0)
    # ATM / CVS / BARCODE: the paid notification arrives before the code-issued one.
    out_of_order = models.BooleanField(default=False)
    # Notifications leave this long after the button is pressed.
    delay_seconds = models.FloatField(default=0.0, validators=[MinValueValidator(0)])
    # Trades are paid, but no notification is sent and the browser is not sent back.
    drop_notifications = models.BooleanField(default=False)
    # Notifications and query answers are signed with a wrong HashKey.
    bad_mac = models.BooleanField(default=False)
    # Paid notifications carry SimulatePaid=1, as a payment simulated from ECPay's back office.
    simulate_paid = models.BooleanField(default=False)
    # QueryTradeInfo answers HTTP 403, as ECPay does to a merchant that asks too often.
    query_forbidden = models.BooleanField(default=False)

    class Meta:
        app_label = "gateways"
        verbose_name_plural = "simulated ECPay faults"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="ecpay_sim_faults_one_row"),
            models.CheckConstraint(
                condition=Q(delay_seconds__gte=0), name="ecpay_sim_faults_delay_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return "ECPay simulator faults"

    @classmethod
    def current(cls) -> "SimulatedEcpayFaults":
        return cls.objects.filter(pk=cls.ONLY_ROW).first() or cls(pk=cls.ONLY_ROW)


def set_faults(**flags: Any) -> SimulatedEcpayFaults:
    """Switch on the faults named (`set_faults(bad_mac=True, delay_seconds=2)`) and every other
    off; `set_faults()` switches them all off.

    Raises TypeError for a name that is no fault and ValidationError for a value of the wrong kind.
    """
    faults = SimulatedEcpayFaults(pk=SimulatedEcpayFaults.ONLY_ROW, **flags)
    faults.clean_fields()
    faults.save()
    return faults
