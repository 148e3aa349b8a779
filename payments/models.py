import secrets
import string
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import SHA256
from django.utils.translation import gettext_lazy as _

from core.models import MONEY_MAX, ZERO, MoneyField, TimeStampedModel, currency_field
from gateways.models import Gateway

_PUBLIC_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_payment_public_id() -> str:
    """`pay_` and 24 random characters: safe to show, unguessable, not the primary key."""
    return "pay_" + "".join(secrets.choice(_PUBLIC_ID_ALPHABET) for _position in range(24))


class PaymentKind(models.TextChoices):
    ORDER = "order", _("Order")
    DEPOSIT = "deposit", _("Deposit")
    WITHDRAWAL = "withdrawal", _("Withdrawal")


class PaymentMethod(models.TextChoices):
    CARD = "card", _("Card")
    ATM = "atm", _("ATM transfer")
    CVS = "cvs", _("Convenience store code")
    BARCODE = "barcode", _("Convenience store barcode")
    WEB_ATM = "webatm", _("WebATM")
    WALLET = "wallet", _("Wallet")
    BANK_APP = "bank_app", _("Bank app")
    BALANCE = "balance", _("Balance")


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PROCESSING = "processing", _("Processing")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")
    REFUNDED = "refunded", _("Refunded")
    # Money arrived that paid nothing (its order was paid another way, the attempt was given up
    # on, it fell short of the order's total): it went to the customer's balance instead.
    CREDITED = "credited", _("Credited to balance")


# The only moves a payment's status may make; `payments.services.payment_transition` enforces
# them. A partial refund keeps the payment `completed` and raises `refunded_amount`. Money that
# arrives for a payment we gave up on (failed, cancelled, expired) is credited, never lost.
PAYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    PaymentStatus.PENDING: frozenset(
        {PaymentStatus.PROCESSING, PaymentStatus.CANCELLED, PaymentStatus.EXPIRED}
    ),
    PaymentStatus.PROCESSING: frozenset(
        {PaymentStatus.COMPLETED, PaymentStatus.FAILED, PaymentStatus.CREDITED}
    ),
    PaymentStatus.COMPLETED: frozenset({PaymentStatus.REFUNDED}),
    # Only a dead letter (failed with needs_review) is taken up again, by payment_reprocess.
    PaymentStatus.FAILED: frozenset({PaymentStatus.PROCESSING, PaymentStatus.CREDITED}),
    PaymentStatus.CANCELLED: frozenset({PaymentStatus.CREDITED}),
    PaymentStatus.EXPIRED: frozenset({PaymentStatus.CREDITED}),
    PaymentStatus.REFUNDED: frozenset(),
    PaymentStatus.CREDITED: frozenset(),
}

# The statuses in which an order payment may hold its order's claim (`Payment.claimed_order`):
# on its way, paid, or failed with money that may have moved (a dead letter keeps the claim
# until a person has looked; `payments.services.payment_fail`). Cancelled, expired and
# credited payments never hold it.
CLAIM_STATUSES = frozenset(
    {
        PaymentStatus.PENDING,
        PaymentStatus.PROCESSING,
        PaymentStatus.COMPLETED,
        PaymentStatus.REFUNDED,
        PaymentStatus.FAILED,
    }
)


class Payment(TimeStampedModel):
    """One attempt to move money, for an order, a deposit or a withdrawal."""

    public_id = models.CharField(
        max_length=32, default=new_payment_public_id, editable=False, verbose_name=_("public id")
    )
    kind = models.CharField(max_length=16, choices=PaymentKind.choices, verbose_name=_("kind"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="payments",
        verbose_name=_("user"),
    )
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
        verbose_name=_("order"),
    )
    # The order again, while this payment holds the order's claim: one order, one payment in
    # flight. Unique, so the database lets a second payment of the order take money only after
    # the first has let go of it (failed with no money moved, cancelled, expired); it is set when
    # an order payment is created and cleared by the transition that lets go
    # (`payments.services.payment_transition`). NULL for every other payment.
    claimed_order = models.ForeignKey(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("claimed order"),
    )
    gateway = models.CharField(max_length=16, choices=Gateway.choices, verbose_name=_("gateway"))
    method = models.CharField(
        max_length=16, choices=PaymentMethod.choices, verbose_name=_("method")
    )
    amount = MoneyField(verbose_name=_("amount"))
    currency = currency_field()
    refunded_amount = MoneyField(default=ZERO, verbose_name=_("refunded amount"))
    status = models.CharField(
        max_length=16,
        choices=PaymentStatus.choices,
        default=PaymentStatus.PENDING,
        verbose_name=_("status"),
    )
    # The three references below are NULL, not "", until known: NULLs never collide in their
    # unique indexes, empty strings would.
    # ECPay's MerchantTradeNo: ours, sent to ECPay, at most 20 letters and digits, never reused.
    merchant_trade_no = models.CharField(  # noqa: DJ001
        max_length=20, null=True, blank=True, verbose_name=_("merchant trade no")
    )
    # The gateway's own id of the payment (ECPay TradeNo, wallet paymentId, card charge id).
    gateway_reference = models.CharField(  # noqa: DJ001
        max_length=64, null=True, blank=True, verbose_name=_("gateway reference")
    )
    # All that is kept of a card: the provider's token, brand, last four digits and expiry.
    card_token = models.CharField(max_length=64, blank=True, verbose_name=_("card token"))
    card_brand = models.CharField(max_length=16, blank=True, verbose_name=_("card brand"))
    card_last4 = models.CharField(max_length=4, blank=True, verbose_name=_("card last4"))
    card_exp_month = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("card exp month")
    )
    card_exp_year = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("card exp year")
    )
    failure_reason = models.TextField(blank=True, verbose_name=_("failure reason"))
    # ATM / convenience-store payments: the code ECPay issued (virtual account or payment
    # number), the bank's code for ATM, and until when the customer can pay with it.
    payment_code = models.CharField(max_length=64, blank=True, verbose_name=_("payment code"))
    payment_code_bank = models.CharField(
        max_length=8, blank=True, verbose_name=_("payment code bank")
    )
    payment_code_expires_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("payment code expires at")
    )
    # When the customer's browser was handed the signed form to ECPay's page: from then on ECPay
    # may take money for this payment, so it is never abandoned for another one unasked.
    sent_to_gateway_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("sent to gateway at")
    )
    # Charge attempts made so far (each is a GatewayOperation).
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    # Set when a person must look: the pipeline crashed or gave up (a dead letter), or the
    # money does not add up. Cleared only by staff.
    needs_review = models.BooleanField(default=False, verbose_name=_("needs review"))
    # As the client sent it (`Idempotency-Key`), for people reading the row.
    idempotency_key = models.CharField(  # noqa: DJ001
        max_length=255, null=True, blank=True, verbose_name=_("idempotency key")
    )
    # sha256 hex of `idempotency_key`: keys are compared by it (unique per user), never as text,
    # which MariaDB's utf8mb4_unicode_ci compares ignoring case and trailing spaces ("abc", "ABC"
    # and "abc " were one key: a second deposit came back as the first). Hex digits compare the
    # same on every database, as core.IdempotencyKey's do; a binary collation would not do
    # (MariaDB's utf8mb4_bin still ignores trailing spaces, and SQLite has none by that name).
    # The database computes it, so every row has it however it was written, older rows too
    # (payments 0011). NULL without a key; not `null=True`, with which Django adds the column
    # to SQLite in a way SQLite refuses for a stored one.
    idempotency_key_digest = models.GeneratedField(
        expression=SHA256("idempotency_key"),
        output_field=models.CharField(max_length=64),
        db_persist=True,
        verbose_name=_("idempotency key digest"),
    )
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("completed at"))

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount__lte=MONEY_MAX), name="payment_amount_fits_column"
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0, refunded_amount__lte=F("amount")),
                name="payment_refund_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(status__in=PaymentStatus.values), name="payment_status_known"
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind=PaymentKind.ORDER, order__isnull=False)
                    | (~Q(kind=PaymentKind.ORDER) & Q(order__isnull=True))
                ),
                name="payment_order_iff_kind_order",
            ),
            models.CheckConstraint(
                condition=Q(gateway__in=Gateway.values), name="payment_gateway_known"
            ),
            # A claim is on the payment's own order, and only while it is on its way or paid.
            models.CheckConstraint(
                condition=Q(claimed_order__isnull=True)
                | Q(claimed_order=F("order"), status__in=CLAIM_STATUSES),
                name="payment_claim_on_own_order",
            ),
            # One order, one payment holding it (NULLs never collide).
            models.UniqueConstraint(fields=["claimed_order"], name="payment_one_claim_per_order"),
            # NULLs never collide in a unique index (MariaDB and SQLite alike), so payments
            # without a reference yet do not conflict with each other.
            models.UniqueConstraint(
                fields=["merchant_trade_no"], name="payment_merchant_trade_no_unique"
            ),
            # Reference first: staff search by any gateway reference uses this index too.
            models.UniqueConstraint(
                fields=["gateway_reference", "gateway"], name="payment_gateway_reference_unique"
            ),
            models.UniqueConstraint(
                fields=["user", "idempotency_key_digest"],
                name="payment_idempotency_key_digest_per_user",
            ),
            # Served by lookups by public id (API, admin search).
            models.UniqueConstraint(fields=["public_id"], name="payment_public_id_unique"),
        ]
        permissions = [
            # Given to staff explicitly (a group or the user): being staff is not enough.
            ("refund_payment", "Can refund payments"),
            ("reprocess_payment", "Can reprocess payments"),
            ("review_payment", "Can mark payments reviewed"),
            ("export_payment", "Can export payments"),
            ("approve_refund", "Can approve refunds"),
        ]
        indexes = [
            # Staff work queues and reconciliation: payments in a status, oldest first.
            models.Index(fields=["status", "created_at"], name="payment_status_created_idx"),
            # A customer's payments, newest first.
            models.Index(fields=["user", "created_at"], name="payment_user_created_idx"),
            # The review queue and reprocess_payments: dead letters, oldest first.
            models.Index(fields=["needs_review", "created_at"], name="payment_review_idx"),
            # The admin's list, newest first, and its date filter; the dashboard's last 30 days,
            # on any status. InnoDB ends a secondary index with the primary key, so this one is
            # (created_at, id): it serves the list's ORDER BY created_at DESC, id DESC as it is.
            models.Index(fields=["created_at"], name="payment_created_idx"),
        ]

    def __str__(self) -> str:
        return self.public_id


class PaymentEvent(models.Model):
    """One line of a payment's audit timeline: a status change or a step of its processing.

    Append-only: a saved event is never changed. It is also the seeds' ProcessPaidOrder log,
    with `is_error` on failed attempts.
    """

    payment = models.ForeignKey(
        Payment, on_delete=models.CASCADE, related_name="events", verbose_name=_("payment")
    )
    type = models.CharField(max_length=64, verbose_name=_("type"))
    from_status = models.CharField(max_length=16, blank=True, verbose_name=_("from status"))
    to_status = models.CharField(max_length=16, blank=True, verbose_name=_("to status"))
    data = models.JSONField(default=dict, blank=True, verbose_name=_("data"))
    is_error = models.BooleanField(default=False, verbose_name=_("is error"))
    # The member of staff who caused it; empty for the system's own steps.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("payment event")
        verbose_name_plural = _("payment events")
        indexes = [
            # A payment's timeline in time order.
            models.Index(fields=["payment", "created_at"], name="payment_event_timeline_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} ({self.from_status} → {self.to_status})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("Payment events are append-only.")
        super().save(*args, **kwargs)


class LedgerEntryType(models.TextChoices):
    DEPOSIT = "deposit", "Deposit"
    WITHDRAWAL = "withdrawal", "Withdrawal"
    ORDER_PAYMENT = "order_payment", "Order paid from balance"
    REFUND = "refund", "Refund to balance"
    # Money a gateway took that paid nothing, or more than the order's total: given to the
    # customer's balance (`payments.services.payment_credit`).
    CREDITED_PAYMENT = "credited_payment", "Payment credited to balance"


CREDIT_ENTRY_TYPES = frozenset(
    {LedgerEntryType.DEPOSIT, LedgerEntryType.REFUND, LedgerEntryType.CREDITED_PAYMENT}
)
DEBIT_ENTRY_TYPES = frozenset({LedgerEntryType.WITHDRAWAL, LedgerEntryType.ORDER_PAYMENT})


class LedgerEntry(models.Model):
    """One change to a user's balance. The balance always equals the sum of the user's entries."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
        verbose_name=_("user"),
    )
    payment = models.ForeignKey(
        Payment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
        verbose_name=_("payment"),
    )
    entry_type = models.CharField(
        max_length=16, choices=LedgerEntryType.choices, verbose_name=_("entry type")
    )
    # Signed: credits are positive, debits negative.
    amount = MoneyField(verbose_name=_("amount"))
    currency = currency_field()
    balance_after = MoneyField(verbose_name=_("balance after"))
    # Which of the payment's refunds this entry posts (1, 2, ...); 0 for every other entry.
    refund_number = models.PositiveSmallIntegerField(default=0, verbose_name=_("refund number"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(entry_type__in=CREDIT_ENTRY_TYPES, amount__gt=0)
                    | Q(entry_type__in=DEBIT_ENTRY_TYPES, amount__lt=0)
                ),
                name="ledger_entry_sign_matches_type",
            ),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="ledger_entry_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(balance_after__lte=MONEY_MAX), name="ledger_entry_balance_fits_column"
            ),
            # A payment moves a balance at most once per kind of entry (and each of its refunds
            # once): posting it again is a no-op, never a second credit.
            models.UniqueConstraint(
                fields=["payment", "entry_type", "refund_number"],
                name="ledger_entry_once_per_payment",
            ),
        ]
        indexes = [
            # A user's ledger in time order (wallet page, check_ledger).
            models.Index(fields=["user", "created_at"], name="ledger_entry_user_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.entry_type} {self.amount} {self.currency}"


class OperationKind(models.TextChoices):
    CHARGE = "charge", "Charge"
    REFUND = "refund", "Refund"


class OperationStatus(models.TextChoices):
    PENDING = "pending", "Sent, no answer yet"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Outcome unknown"


# `payments.services.operation_settle` enforces these. UNKNOWN is a real state: the request may
# have taken effect, and only asking the gateway (never repeating the call) settles it.
OPERATION_TRANSITIONS: dict[str, frozenset[str]] = {
    OperationStatus.PENDING: frozenset(
        {OperationStatus.SUCCEEDED, OperationStatus.FAILED, OperationStatus.UNKNOWN}
    ),
    OperationStatus.UNKNOWN: frozenset({OperationStatus.SUCCEEDED, OperationStatus.FAILED}),
    OperationStatus.SUCCEEDED: frozenset(),
    OperationStatus.FAILED: frozenset(),
}


class GatewayOperation(TimeStampedModel):
    """One outbound call that moves money (a charge or a refund), recorded before it is sent.

    Its idempotency key goes to the gateway with the call, so a repeat cannot charge twice and
    an operation left without an answer can be looked up by it.
    """

    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="operations", verbose_name=_("payment")
    )
    gateway = models.CharField(max_length=16, choices=Gateway.choices, verbose_name=_("gateway"))
    kind = models.CharField(max_length=16, choices=OperationKind.choices, verbose_name=_("kind"))
    idempotency_key = models.CharField(max_length=64, verbose_name=_("idempotency key"))
    amount = MoneyField(verbose_name=_("amount"))
    currency = currency_field()
    status = models.CharField(
        max_length=16,
        choices=OperationStatus.choices,
        default=OperationStatus.PENDING,
        verbose_name=_("status"),
    )
    # The gateway's id of the charge or refund, once known.
    external_id = models.CharField(max_length=64, blank=True, verbose_name=_("external id"))
    error_code = models.CharField(max_length=64, blank=True, verbose_name=_("error code"))
    error_message = models.CharField(max_length=255, blank=True, verbose_name=_("error message"))
    # Refunds: why the member of staff refunded, as they wrote it.
    reason = models.CharField(max_length=255, blank=True, verbose_name=_("reason"))
    settled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("settled at"))

    class Meta:
        verbose_name = _("gateway operation")
        verbose_name_plural = _("gateway operations")
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="operation_key_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="operation_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=OperationStatus.values), name="operation_status_known"
            ),
        ]
        indexes = [
            # The janitor: pending and unknown operations, oldest first.
            models.Index(fields=["status", "created_at"], name="operation_status_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.idempotency_key} ({self.status})"


class DiscrepancyKind(models.TextChoices):
    MISSING_CALLBACK = "missing_callback", "Paid at the gateway, no notification received"
    AMOUNT_MISMATCH = "amount_mismatch", "The gateway's amount differs from ours"
    STATUS_MISMATCH = "status_mismatch", "The gateway's status differs from ours"


class ReconciliationCheck(models.Model):
    """When reconciliation last asked the gateway about a payment, and what it heard: a payment
    is asked again only ECPAY_RECONCILE_REASK_MINUTES later, so following every ATM and store
    payment until ECPay settles it stays well below the rate ECPay answers 403 to.

    Bookkeeping about the gateway, not the payment's state: written without the payment's lock.
    """

    payment = models.OneToOneField(
        Payment,
        on_delete=models.CASCADE,
        related_name="reconciliation_check",
        verbose_name=_("payment"),
    )
    asked_at = models.DateTimeField(verbose_name=_("asked at"))
    times_asked = models.PositiveIntegerField(default=1, verbose_name=_("times asked"))
    # What the gateway answered (TradeStatus, TradeAmt), or the error that kept it from it.
    answer = models.JSONField(default=dict, blank=True, verbose_name=_("answer"))

    class Meta:
        verbose_name = _("reconciliation check")
        verbose_name_plural = _("reconciliation checks")

    def __str__(self) -> str:
        return f"{self.payment} asked at {self.asked_at:%Y-%m-%d %H:%M}"


class ReconciliationDiscrepancy(models.Model):
    """A difference reconciliation found between the gateway's record and ours, for staff.

    Recorded once per payment and kind; resolved by a person, who says who and why.
    """

    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="discrepancies", verbose_name=_("payment")
    )
    kind = models.CharField(max_length=32, choices=DiscrepancyKind.choices, verbose_name=_("kind"))
    details = models.JSONField(default=dict, blank=True, verbose_name=_("details"))
    found_at = models.DateTimeField(auto_now_add=True, verbose_name=_("found at"))
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    resolved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resolved at"))
    resolution = models.TextField(blank=True, verbose_name=_("resolution"))

    class Meta:
        verbose_name = _("reconciliation discrepancy")
        verbose_name_plural = _("reconciliation discrepancies")
        constraints = [
            models.UniqueConstraint(
                fields=["payment", "kind"], name="discrepancy_once_per_payment_and_kind"
            ),
        ]
        indexes = [
            # The staff queue: unresolved discrepancies, oldest first.
            models.Index(fields=["resolved_at", "found_at"], name="discrepancy_queue_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.payment}"


class RefundApprovalStatus(models.TextChoices):
    REQUESTED = "requested", "Waiting for a second manager"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class RefundApproval(TimeStampedModel):
    """A refund that takes its payment's refunds (made, pending and waiting) above
    `REFUND_APPROVAL_THRESHOLD`, asked for by one member of staff, waiting for a second one with
    `payments.approve_refund` to approve (it is then made) or reject it.

    Decided once: `payments.refunds.approvals.refund_approve` / `refund_reject` move it out of
    requested.
    """

    payment = models.ForeignKey(
        Payment,
        on_delete=models.PROTECT,
        related_name="refund_approvals",
        verbose_name=_("payment"),
    )
    # NULL: all that is left to refund when it is approved.
    amount = MoneyField(null=True, blank=True, verbose_name=_("amount"))
    reason = models.CharField(max_length=255, verbose_name=_("reason"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("requested by"),
    )
    status = models.CharField(
        max_length=16,
        choices=RefundApprovalStatus.choices,
        default=RefundApprovalStatus.REQUESTED,
        verbose_name=_("status"),
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("decided at"))
    decision_note = models.TextField(blank=True, verbose_name=_("decision note"))
    # The refund made once approved.
    operation = models.OneToOneField(
        GatewayOperation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="approval",
        verbose_name=_("operation"),
    )

    class Meta:
        verbose_name = _("refund approval")
        verbose_name_plural = _("refund approvals")
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gt=0),
                name="refund_approval_amount_positive",
            ),
            models.CheckConstraint(
                condition=Q(status__in=RefundApprovalStatus.values),
                name="refund_approval_status_known",
            ),
            # Four eyes: whoever asked for the refund never decides it.
            models.CheckConstraint(
                condition=~Q(decided_by=F("requested_by")),
                name="refund_approval_decider_is_not_requester",
            ),
            # Decided means someone decided, when; waiting means nobody has yet.
            models.CheckConstraint(
                condition=(
                    Q(
                        status=RefundApprovalStatus.REQUESTED,
                        decided_by__isnull=True,
                        decided_at__isnull=True,
                    )
                    | (
                        ~Q(status=RefundApprovalStatus.REQUESTED)
                        & Q(decided_by__isnull=False, decided_at__isnull=False)
                    )
                ),
                name="refund_approval_decided_by_someone",
            ),
        ]
        indexes = [
            # The managers' queue: requests waiting, oldest first.
            models.Index(fields=["status", "created_at"], name="refund_approval_queue_idx"),
        ]

    def __str__(self) -> str:
        amount = "all that is left" if self.amount is None else str(self.amount)
        return f"Refund of {amount} for {self.payment_id} ({self.status})"
