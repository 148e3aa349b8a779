"""Making a recorded refund at its gateway (`payments.refunds.services.refund_request` records it).

At the card provider, like a charge, a refund is sent with its operation's idempotency key:
sending it again — after a lost answer, a retry, a redelivered task — can only ever make the one
refund. So a card refund left pending or unknown is settled by sending the same request again,
which the provider answers with the refund it already made, if it made one. ECPay's DoAction takes
no such key: an ECPay refund that may have reached ECPay is never sent again, and one whose answer
was lost is flagged for a person; so is one left pending (its task lost, or its worker gone
mid-call: `ecpay_refunds_unanswered`). A balance refund is a ledger entry, posted once per refund.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.exceptions import IllegalTransition
from gateways.base import GatewayError, OutcomeUnknownError, RefundRequest, TransientGatewayError
from gateways.card import get_card_gateway
from gateways.ecpay import credit_refund, ecpay_config
from gateways.models import Gateway
from payments.models import (
    GatewayOperation,
    LedgerEntryType,
    OperationKind,
    OperationStatus,
    Payment,
)
from payments.refunds.services import refund_apply, refund_notify
from payments.services import (
    balance_credit,
    operation_settle,
    payment_event_record,
    payment_flag_for_review,
)

# A refund still pending or unknown this long after it was recorded is the janitor's to settle.
_UNSETTLED = (OperationStatus.PENDING, OperationStatus.UNKNOWN)


def refund_process(operation_id: int) -> Payment | None:
    """Make the refund, once: credit the balance, or ask the card provider or ECPay. Returns the
    payment when this call made (or found) the refund, None otherwise.

    Does nothing for a refund already settled. Raises `TransientGatewayError` when the request
    did not reach the gateway (retry). A refusal settles it failed: nothing was refunded, and
    staff may ask again. A lost answer leaves it unknown: the janitor sends a card refund again
    with the same key; an ECPay refund (no idempotency key there) is flagged for a person.
    """
    operation = GatewayOperation.objects.select_related("payment").get(pk=operation_id)
    if operation.kind != OperationKind.REFUND or operation.status not in _UNSETTLED:
        return None
    if operation.gateway == Gateway.BALANCE:
        with transaction.atomic():
            entry = balance_credit(
                user_id=operation.payment.user_id,
                amount=operation.amount,
                currency=operation.currency,
                entry_type=LedgerEntryType.REFUND,
                payment_id=operation.payment_id,
                refund_number=_refund_number(operation),
            )
            return _succeeded(operation, external_id=f"ledger-{entry.pk}")
    if operation.gateway == Gateway.ECPAY and operation.status == OperationStatus.UNKNOWN:
        return None  # it may have been made: only a person, in ECPay's back office, can tell

    # Outside any transaction: the gateway may take seconds, and no lock waits for it.
    try:
        external_id = _refund_at_gateway(operation)
    except TransientGatewayError:
        raise
    except OutcomeUnknownError as error:
        if operation.gateway == Gateway.ECPAY:
            ecpay_refund_mark_unknown(
                operation_id=operation.pk, error_code=error.code, error_message=str(error)
            )
        else:
            operation_settle(
                operation_id=operation.pk,
                to=OperationStatus.UNKNOWN,
                error_code=error.code,
                error_message=str(error),
            )
        return None
    except GatewayError as error:
        operation_settle(
            operation_id=operation.pk,
            to=OperationStatus.FAILED,
            error_code=error.code,
            error_message=str(error),
        )
        return None
    with transaction.atomic():
        return _succeeded(operation, external_id=external_id)


def refund_give_up_retrying(operation_id: int) -> None:
    """Retries are spent. A card refund may yet go through: the janitor sends it again later
    with the same key. An ECPay refund never reached ECPay (retries are for requests that did
    not): it failed, and staff may ask again."""
    operation = GatewayOperation.objects.get(pk=operation_id)
    to = OperationStatus.FAILED if operation.gateway == Gateway.ECPAY else OperationStatus.UNKNOWN
    operation_settle(operation_id=operation_id, to=to, error_code="retries")


def unsettled_refunds(limit: int = 100) -> list[GatewayOperation]:
    """Card and balance refunds with no answer for longer than any answer can take, oldest
    first: the janitor makes them again, with the same key."""
    cutoff = timezone.now() - timedelta(seconds=settings.OPERATION_SETTLE_AFTER_SECONDS)
    return list(
        GatewayOperation.objects.filter(
            kind=OperationKind.REFUND,
            # Sending again is safe only where the gateway takes an idempotency key.
            gateway__in=[Gateway.CARD, Gateway.BALANCE],
            status__in=_UNSETTLED,
            created_at__lt=cutoff,
        ).order_by("created_at")[:limit]
    )


def ecpay_refunds_unanswered(limit: int = 100) -> list[GatewayOperation]:
    """ECPay refunds still pending long after their task should have settled them, oldest
    first: its message was lost (the broker was down when it was queued), or its worker died
    before or during the call. The janitor marks them unknown (`ecpay_refund_mark_unknown`).

    Why not send them: nothing here can tell "never sent" from "sent, answer lost" (no mark
    is written before the call), nor a lost message from one still queued or retrying, and
    DoAction takes no idempotency key, so sending from here could refund twice. A mark written
    before the call would still race a late delivery of the task unless sending were claimed
    under a lock, a column the operation does not have. A person checking one refund in ECPay's
    back office costs less than a customer refunded twice. Pending for longer than
    PIPELINE_STRANDED_AFTER_SECONDS, which settings keep longer than the task's retries wait:
    a refund whose retries are still under way is not taken for a lost one.
    """
    waited = max(settings.OPERATION_SETTLE_AFTER_SECONDS, settings.PIPELINE_STRANDED_AFTER_SECONDS)
    cutoff = timezone.now() - timedelta(seconds=waited)
    return list(
        GatewayOperation.objects.filter(
            kind=OperationKind.REFUND,
            gateway=Gateway.ECPAY,
            status=OperationStatus.PENDING,
            created_at__lt=cutoff,
        ).order_by("created_at")[:limit]
    )


def ecpay_refund_mark_unknown(
    *, operation_id: int, error_code: str, error_message: str = ""
) -> None:
    """Settle a pending ECPay refund as unknown and flag its payment for a person, once.

    Under the operation's row lock, so the janitor and a task whose answer was lost cannot both
    flag it, and a refund settled meanwhile (the call did answer) is left as it is. From then on
    it is never sent (`refund_process`), counts among the unknown outcomes the alarm watches
    (`payments.selectors.operations_unknown`), and holds back the payment's next refund until
    a person has checked it in ECPay's back office.
    """
    with transaction.atomic():
        operation = GatewayOperation.objects.select_for_update().get(pk=operation_id)
        if operation.status != OperationStatus.PENDING:
            return
        operation_settle(
            operation_id=operation_id,
            to=OperationStatus.UNKNOWN,
            error_code=error_code,
            error_message=error_message,
        )
        payment_flag_for_review(
            payment_id=operation.payment_id,
            reason="refund_outcome_unknown",
            data={"refund": operation.idempotency_key, "error_code": error_code},
        )


def ecpay_refund_unknown(payment_id: int) -> GatewayOperation | None:
    """The payment's ECPay refund whose outcome is unknown, if it has one (it holds back every
    later refund, so there is at most one): what `ecpay_refund_settle_checked` settles."""
    return GatewayOperation.objects.filter(
        payment_id=payment_id,
        kind=OperationKind.REFUND,
        gateway=Gateway.ECPAY,
        status=OperationStatus.UNKNOWN,
    ).first()


def ecpay_refund_settle_checked(
    *, refund_key: str, made: bool, actor: User, note: str
) -> GatewayOperation:
    """Settle an ECPay refund whose outcome is unknown as a person found it in ECPay's back
    office (the payment page's "Settle the unknown refund", `manage.py settle_ecpay_refund`):
    made, it counts against its payment as ECPay's answer would have (`refund_apply`) and the
    customer is told once this commits; not made, it fails, and staff may ask for the refund
    again. Either way the payment's next refund is no longer held back, and the timeline keeps
    who checked and what they wrote.

    Only an ECPay refund in `unknown` (every other refund is settled by its gateway's answer):
    `IllegalTransition` for any other, `GatewayOperation.DoesNotExist` for no such refund. Lock
    order as everywhere: the payment, then the refund.
    """
    with transaction.atomic():
        operation = GatewayOperation.objects.get(
            kind=OperationKind.REFUND, idempotency_key=refund_key
        )
        payment = Payment.objects.select_for_update().get(pk=operation.payment_id)
        operation = GatewayOperation.objects.select_for_update().get(pk=operation.pk)
        if operation.gateway != Gateway.ECPAY or operation.status != OperationStatus.UNKNOWN:
            raise IllegalTransition(
                "Only an ECPay refund whose outcome is unknown is settled by hand.",
                from_status=operation.status,
                to_status=OperationStatus.SUCCEEDED if made else OperationStatus.FAILED,
            )
        payment_event_record(
            payment_id=payment.pk,
            type="refund_checked",
            actor=actor,
            data={"refund": refund_key, "made": made, "note": note},
        )
        if made:
            _succeeded(operation, external_id=f"{payment.gateway_reference}-{refund_key}"[:64])
            transaction.on_commit(lambda: refund_notify(operation_id=operation.pk))
        else:
            operation_settle(
                operation_id=operation.pk,
                to=OperationStatus.FAILED,
                error_code="checked_not_made",
                error_message=note,
            )
    operation.refresh_from_db()
    return operation


def _refund_at_gateway(operation: GatewayOperation) -> str:
    """Send the refund to the payment's gateway; returns the gateway's id of it."""
    payment = operation.payment
    if operation.gateway == Gateway.ECPAY:
        credit_refund(
            merchant_trade_no=payment.merchant_trade_no or "",
            trade_no=payment.gateway_reference or "",
            amount=operation.amount,
            config=ecpay_config(),
        )
        # DoAction names no refund: the trade and our refund's key say which it was.
        return f"{payment.gateway_reference}-{operation.idempotency_key}"[:64]
    result = get_card_gateway().refund(
        RefundRequest(
            # The card charge's id: what the payment completed with.
            charge_id=payment.gateway_reference or "",
            amount=operation.amount,
            currency=operation.currency,
            idempotency_key=operation.idempotency_key,
        )
    )
    return result.refund_id


def _succeeded(operation: GatewayOperation, *, external_id: str) -> Payment:
    operation_settle(
        operation_id=operation.pk, to=OperationStatus.SUCCEEDED, external_id=external_id
    )
    return refund_apply(operation_id=operation.pk)


def _refund_number(operation: GatewayOperation) -> int:
    """1 for the payment's first refund, 2 for its second...: one ledger entry each."""
    return GatewayOperation.objects.filter(
        payment_id=operation.payment_id, kind=OperationKind.REFUND, pk__lte=operation.pk
    ).count()
