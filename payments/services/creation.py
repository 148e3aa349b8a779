"""Creating a payment and starting it: by card (tokenized first), on ECPay's page, from the
balance, or a withdrawal. A payment of an order takes the order's claim in its INSERT
(`Payment.claimed_order`), so an order has one payment under way, whoever asks at once.

Nothing here calls a gateway while a transaction holds a lock (tokenizing a card happens before).
"""

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import SHA256
from django.utils import timezone

from accounts.models import User
from core.idempotency import IdempotencyKeyReused
from gateways.base import (
    CardDetails,
    CardToken,
    OutcomeUnknownError,
    PaymentDeclinedError,
    PermanentGatewayError,
    TransientGatewayError,
)
from gateways.card import get_card_gateway
from gateways.ecpay import new_merchant_trade_no
from gateways.models import Gateway
from orders.models import Order
from payments.exceptions import (
    CardRejected,
    CurrencyMismatch,
    GatewayFailure,
    GatewayUnavailable,
    InsufficientBalance,
    InvalidPayment,
    OrderAlreadyPaid,
    OrderPaymentInProgress,
)
from payments.limits import ECPAY_PAGE_METHODS, amount_check, balance_room_check
from payments.metrics import counted_on_commit, payments_created
from payments.models import (
    LedgerEntryType,
    Payment,
    PaymentEvent,
    PaymentKind,
    PaymentMethod,
    PaymentStatus,
)
from payments.selectors import payment_unused
from payments.services.ledger import balance_debit
from payments.services.transitions import payment_event_record, payment_transition

# What a customer can pay with on ECPay's page.
ECPAY_METHODS = tuple(ECPAY_PAGE_METHODS)


# How often a customer's new payment tries to take its order's claim from payments that let go
# of it, or were never used, meanwhile (`_create_replacing_unused`): each try follows another
# request's move.
_CLAIM_TRIES = 3


def payment_create(
    *,
    user: User,
    kind: str,
    gateway: str,
    method: str,
    amount: Decimal,
    currency: str,
    order: Order | None = None,
    card: CardToken | None = None,
    merchant_trade_no: str | None = None,
    gateway_reference: str | None = None,
    idempotency_key: str | None = None,
    claim_order: bool = True,
) -> Payment:
    """Create a pending payment and its first event. Of a card, only its token is kept.

    The amount is range-checked first (`payments.limits`; a deposit also against what the
    balance may hold, as `user` was read). An order payment takes its order's claim
    (`Payment.claimed_order`) in the same INSERT: while another payment holds it, the database
    refuses this one, and it raises `OrderPaymentInProgress` (or `OrderAlreadyPaid`) naming that
    payment. `claim_order=False`
    records money that arrived for an order it cannot pay (a wallet's report): it never holds
    the claim.

    With an idempotency key, a second call with the same key and the same parameters returns
    the first payment; with different parameters it raises `IdempotencyKeyReused`. Unique
    constraints decide races, never a read before the write. A `gateway_reference` another
    payment of the gateway has raises the IntegrityError for the caller.
    """
    if not isinstance(amount, Decimal):
        raise TypeError("Money is Decimal, never float.")
    if (kind == PaymentKind.ORDER) != (order is not None):
        raise InvalidPayment("An order payment needs an order, and only an order payment has one.")
    if order is not None and order.user_id != user.pk:
        raise InvalidPayment(fields={"order": ["Not found."]})
    amount_check(kind=kind, gateway=gateway, method=method, amount=amount, currency=currency)
    if kind == PaymentKind.DEPOSIT:
        # The balance as the caller's user was read (the request's authentication read it).
        balance_room_check(balance=user.balance, amount=amount, currency=currency)

    wanted = {
        "kind": kind,
        "gateway": gateway,
        "method": method,
        "amount": amount,
        "currency": currency,
    }
    card_fields = (
        {
            "card_token": card.token,
            "card_brand": card.brand,
            "card_last4": card.last4,
            "card_exp_month": card.exp_month,
            "card_exp_year": card.exp_year,
        }
        if card
        else {}
    )
    claimed = order if claim_order else None
    try:
        with transaction.atomic():
            # The order itself, not its id: the answer shows its number without reading it.
            payment = Payment.objects.create(
                user=user,
                order=order,
                claimed_order=claimed,
                idempotency_key=idempotency_key,
                merchant_trade_no=merchant_trade_no,
                gateway_reference=gateway_reference,
                **wanted,
                **card_fields,
            )
            PaymentEvent.objects.create(
                payment=payment, type="created", to_status=payment.status, data={"kind": kind}
            )
            counted_on_commit(payments_created.labels(gateway, method).inc)
    except IntegrityError:
        earlier = _created_before(
            user=user, idempotency_key=idempotency_key, order=order, wanted=wanted
        )
        if earlier is not None:
            return earlier
        if claimed is None or _reference_taken(gateway, gateway_reference):
            raise
        holder = Payment.objects.filter(claimed_order=claimed).first()
        # No holder: it let go between our INSERT and this read; the caller may try again.
        raise claim_refusal(holder) from None
    return payment


def _create_replacing_unused(create: Callable[[], Payment], *, order: Order | None) -> Payment:
    """Create a customer's payment with `create`; if a payment of the order nobody can have
    paid holds the order (`payment_abandon_unused`), let go of it and create this one instead.

    Only for payments a customer starts: money a gateway reports never waits on this.
    """
    for _ in range(_CLAIM_TRIES - 1):
        try:
            return create()
        except OrderPaymentInProgress as refused:
            holder = Payment.objects.filter(claimed_order=order).first() if order else None
            if holder is not None and not payment_abandon_unused(payment_id=holder.pk):
                raise refused from None
            # The holder let go meanwhile, or was let go of now: try again.
    return create()


def _created_before(
    *, user: User, idempotency_key: str | None, order: Order | None, wanted: Mapping[str, Any]
) -> Payment | None:
    """The payment an earlier call with this idempotency key created, if any; raises
    `IdempotencyKeyReused` if that call asked for something else."""
    if idempotency_key is None:
        return None
    # By digest, as the unique constraint compares keys: by the key itself, MariaDB would find
    # the payment of "abc" for "ABC" (`Payment.idempotency_key_digest`).
    payment = Payment.objects.filter(
        user=user, idempotency_key_digest=SHA256(Value(idempotency_key))
    ).first()
    if payment is None:
        return None
    reused_for_another = payment.order_id != (order.pk if order else None) or any(
        getattr(payment, field) != value for field, value in wanted.items()
    )
    if reused_for_another:
        raise IdempotencyKeyReused()
    return payment


def _reference_taken(gateway: str, gateway_reference: str | None) -> bool:
    return bool(
        gateway_reference
        and Payment.objects.filter(gateway=gateway, gateway_reference=gateway_reference).exists()
    )


def claim_refusal(holder: Payment | None) -> OrderPaymentInProgress | OrderAlreadyPaid:
    if holder is None:
        return OrderPaymentInProgress()
    if holder.status in (PaymentStatus.COMPLETED, PaymentStatus.REFUNDED):
        return OrderAlreadyPaid(payment=holder.public_id)
    return OrderPaymentInProgress(payment=holder.public_id)


def payment_abandon_unused(*, payment_id: int) -> bool:
    """Let go of a payment nobody can have paid (`payments.selectors.payment_unused`): it is
    cancelled, and its order's claim freed for another payment; returns whether it was.

    Under the payment's row lock, against `payment_mark_sent_to_gateway`, which takes the same
    lock: a payment is either sent or abandoned, never both.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        unused = payment_unused(payment)
        if unused:
            payment_transition(
                payment_id=payment_id,
                to=PaymentStatus.CANCELLED,
                event="cancelled",
                data={"by": "system", "reason": "never sent to ECPay; another payment replaced it"},
                locked=payment,
            )
    return unused


def payment_mark_sent_to_gateway(*, payment_id: int) -> bool:
    """Record that the customer's browser is given the signed form to ECPay's page for a
    pending payment; returns False, changing nothing, for a payment no longer pending (it was
    cancelled or replaced: its form must not be handed out). Under the payment's row lock."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().only("status", "sent_to_gateway_at")
        locked = payment.get(pk=payment_id)
        if locked.status != PaymentStatus.PENDING:
            return False
        if locked.sent_to_gateway_at is None:
            Payment.objects.filter(pk=payment_id).update(
                sent_to_gateway_at=timezone.now(), updated_at=timezone.now()
            )
            payment_event_record(payment_id=payment_id, type="sent_to_gateway")
    return True


def payment_create_with_card(
    *,
    user: User,
    kind: str,
    order: Order | None,
    amount: Decimal,
    currency: str,
    card: CardDetails,
    idempotency_key: str | None = None,
) -> Payment:
    """Tokenize the card with the provider at once, then create the pending card payment.

    The card number and CVC go no further than the provider's tokenize call: the payment keeps
    only the token, brand, last four digits and expiry. An amount out of range is refused
    before the provider hears of the card.
    """
    amount_check(
        kind=kind, gateway=Gateway.CARD, method=PaymentMethod.CARD, amount=amount, currency=currency
    )
    try:
        token = get_card_gateway().tokenize(card)
    except PaymentDeclinedError:
        raise CardRejected() from None
    except PermanentGatewayError:
        raise GatewayFailure() from None
    except (TransientGatewayError, OutcomeUnknownError):
        raise GatewayUnavailable() from None
    return _create_replacing_unused(
        lambda: payment_create(
            user=user,
            kind=kind,
            gateway=Gateway.CARD,
            method=PaymentMethod.CARD,
            amount=amount,
            currency=currency,
            order=order,
            card=token,
            idempotency_key=idempotency_key,
        ),
        order=order,
    )


def payment_start_ecpay(
    *,
    user: User,
    kind: str,
    order: Order | None,
    amount: Decimal,
    currency: str,
    method: str,
    idempotency_key: str | None = None,
) -> Payment:
    """Create a pending ECPay payment with a new MerchantTradeNo (never reused: unique in the
    database). The customer pays on ECPay's page; its notification completes the payment."""
    if method not in ECPAY_METHODS:
        raise InvalidPayment(fields={"method": [f"ECPay takes {', '.join(ECPAY_METHODS)}."]})
    if currency != "TWD" or amount != amount.to_integral_value():
        raise InvalidPayment(fields={"amount": ["ECPay takes whole New Taiwan dollars."]})
    return _create_replacing_unused(
        lambda: payment_create(
            user=user,
            kind=kind,
            gateway=Gateway.ECPAY,
            method=method,
            amount=amount,
            currency=currency,
            order=order,
            merchant_trade_no=new_merchant_trade_no(),
            idempotency_key=idempotency_key,
        ),
        order=order,
    )


def payment_start_from_balance(
    *, user: User, order: Order, idempotency_key: str | None = None
) -> Payment:
    """Create a pending payment of `order` from the customer's balance; the pipeline debits it.

    Refuses at once, with a clear error, a balance in another currency or too low now; the
    debit itself checks again under the user's row lock.
    """
    balance = User.objects.only("balance", "balance_currency").get(pk=user.pk)
    if order.currency != balance.balance_currency:
        raise CurrencyMismatch(currency=order.currency, balance_currency=balance.balance_currency)
    if balance.balance < order.total:
        raise InsufficientBalance(available=str(balance.balance), requested=str(order.total))
    return _create_replacing_unused(
        lambda: payment_create(
            user=user,
            kind=PaymentKind.ORDER,
            gateway=Gateway.BALANCE,
            method=PaymentMethod.BALANCE,
            amount=order.total,
            currency=order.currency,
            order=order,
            idempotency_key=idempotency_key,
        ),
        order=order,
    )


def payment_record_code(
    *, payment_id: int, code: str, bank: str, expires_at: datetime | None
) -> None:
    """Keep the ATM account or store code the customer pays with; the payment stays pending."""
    with transaction.atomic():
        Payment.objects.filter(pk=payment_id).update(
            payment_code=code,
            payment_code_bank=bank,
            payment_code_expires_at=expires_at,
            updated_at=timezone.now(),
        )
        payment_event_record(
            payment_id=payment_id,
            type="payment_code_issued",
            data={"bank": bank, "expires_at": expires_at.isoformat() if expires_at else None},
        )


def balance_withdraw(*, user: User, amount: Decimal, currency: str) -> Payment:
    """Take `amount` out of the user's balance, as a completed withdrawal payment.

    Raises `InsufficientBalance` if the balance would go below zero; then nothing is written,
    not even the payment. Locks the user's row first: inserting the payment takes a shared lock
    on it (the foreign key's check), and two withdrawals holding that could never both upgrade
    it to the debit's exclusive lock (MariaDB reports a deadlock). The new payment's row cannot
    be waited on by anyone, so taking it second breaks no lock order.
    """
    with transaction.atomic():
        User.objects.select_for_update().only("pk").get(pk=user.pk)
        payment = payment_create(
            user=user,
            kind=PaymentKind.WITHDRAWAL,
            gateway=Gateway.BALANCE,
            method=PaymentMethod.BALANCE,
            amount=amount,
            currency=currency,
        )
        payment_transition(payment_id=payment.pk, to=PaymentStatus.PROCESSING, event="validated")
        balance_debit(
            user_id=user.pk,
            amount=amount,
            currency=currency,
            entry_type=LedgerEntryType.WITHDRAWAL,
            payment_id=payment.pk,
        )
        return payment_transition(
            payment_id=payment.pk, to=PaymentStatus.COMPLETED, event="completed"
        )
