"""The records only the services write (ledger entries, payment and order events, gateway
operations, callbacks, notifications, payment headers) are read-only in the admin for every
member of staff, superusers included; the actions that go through a service still work."""

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Model
from django.forms.models import model_to_dict
from django.urls import reverse

from gateways.models import CallbackOutcome, Gateway, GatewayCallback
from notifications.models import Notification, NotificationStatus
from orders.models import Order, OrderEvent, OrderItem, OrderStatus, PaymentHeader
from payments.models import (
    GatewayOperation,
    LedgerEntry,
    LedgerEntryType,
    OperationKind,
    Payment,
    PaymentEvent,
    PaymentStatus,
    RefundApproval,
    RefundApprovalStatus,
)
from tests.back_office import back_office_sign_in, manager
from tests.factories import UserFactory, email_notification
from tests.payments.test_callback_replay import wallet_callback_rejected_by_our_mistake
from tests.test_admin_models import change, changelist, confirm_action

pytestmark = pytest.mark.django_db


def ledger_entry(order: Order) -> LedgerEntry:
    customer = UserFactory.create()
    return LedgerEntry.objects.create(
        user=customer,
        entry_type=LedgerEntryType.DEPOSIT,
        amount=Decimal("500.00"),
        balance_after=Decimal("500.00"),
    )


def payment_event(order: Order) -> PaymentEvent:
    return PaymentEvent.objects.create(
        payment=order.payment_header.payment, type="created", to_status=PaymentStatus.PENDING
    )


def gateway_operation(order: Order) -> GatewayOperation:
    payment = order.payment_header.payment
    return GatewayOperation.objects.create(
        payment=payment,
        gateway=Gateway.CARD,
        kind=OperationKind.CHARGE,
        idempotency_key="op-read-only-1",
        amount=payment.amount,
    )


def gateway_callback(order: Order) -> GatewayCallback:
    return GatewayCallback.objects.create(
        gateway=Gateway.ECPAY,
        external_reference="TS2025060300001",
        body="RtnCode=1",
        signature_valid=True,
        outcome=CallbackOutcome.REJECTED,
        outcome_reason="amount differs",
    )


def notification(order: Order) -> Notification:
    made: Notification = email_notification(status=NotificationStatus.FAILED, attempts=3)
    return made


def order_event(order: Order) -> OrderEvent:
    return OrderEvent.objects.create(order=order, type="paid", from_status="pending_payment")


def payment(order: Order) -> Payment:
    made: Payment = order.payment_header.payment
    return made


def refund_approval(order: Order) -> RefundApproval:
    return RefundApproval.objects.create(
        payment=order.payment_header.payment, reason="dented", requested_by=manager()
    )


def order_item(order: Order) -> OrderItem:
    return order.items.get()


def payment_header(order: Order) -> PaymentHeader:
    header: PaymentHeader = order.payment_header
    return header


# Each record, how to make one, and what someone might try to change on its page.
RECORDS: dict[str, tuple[Callable[[Any], Model], dict[str, Any]]] = {
    "payments.ledgerentry": (ledger_entry, {"entry_type": LedgerEntryType.REFUND}),
    "payments.paymentevent": (payment_event, {"type": "refunded", "is_error": True}),
    "payments.gatewayoperation": (gateway_operation, {"reason": "edited by hand"}),
    "gateways.gatewaycallback": (gateway_callback, {"outcome": CallbackOutcome.ACCEPTED}),
    "notifications.notification": (notification, {"recipient": "someone@else.example"}),
    "orders.orderevent": (order_event, {"type": "refunded"}),
    "orders.paymentheader": (payment_header, {"gateway_payment_id": "ch_edited"}),
    # The rest of what only the services write.
    "payments.payment": (payment, {"status": PaymentStatus.REFUNDED}),
    "payments.refundapproval": (refund_approval, {"status": RefundApprovalStatus.APPROVED}),
    "orders.order": (lambda order: order, {"status": OrderStatus.REFUNDED}),
    "orders.orderitem": (order_item, {"quantity": 9}),
}


@pytest.fixture(params=RECORDS)
def record(request, paid_order) -> tuple[Model, dict[str, Any]]:
    make, changes = RECORDS[request.param]
    return make(paid_order), changes


def url(obj: Model, view: str) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[obj.pk])


def as_stored(obj: Model) -> dict[str, Any]:
    return type(obj)._default_manager.filter(pk=obj.pk).values().get()


def posted_form(obj: Model, changes: dict[str, Any]) -> dict[str, str]:
    """The change page's form as a browser would post it with `changes` made: every editable
    field, so on a page that allowed editing it would be saved."""
    data: dict[str, str] = {}
    for name, value in {**model_to_dict(obj), **changes}.items():
        if value is None or value is False:
            continue
        if isinstance(value, datetime):  # the admin's split date and time inputs
            data[f"{name}_0"] = value.date().isoformat()
            data[f"{name}_1"] = value.time().strftime("%H:%M:%S")
        elif isinstance(value, date):
            data[name] = value.isoformat()
        elif isinstance(value, dict | list):
            data[name] = json.dumps(value)
        elif value is True:
            data[name] = "on"
        else:
            data[name] = str(value)
    return data


def test_nobody_adds_one_not_even_a_superuser(admin_client, record):
    obj, _ = record
    opts = obj._meta

    response = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))

    assert response.status_code == 403


def test_posting_its_page_changes_nothing_even_for_a_superuser(admin_client, record):
    obj, changes = record
    before = as_stored(obj)

    response = admin_client.post(url(obj, "change"), posted_form(obj, changes))

    assert response.status_code == 403
    assert as_stored(obj) == before


def test_nobody_deletes_one_not_even_a_superuser(admin_client, record):
    obj, _ = record

    assert admin_client.get(url(obj, "delete")).status_code == 403
    assert admin_client.post(url(obj, "delete"), {"post": "yes"}).status_code == 403
    assert type(obj)._default_manager.filter(pk=obj.pk).exists()


def test_the_list_offers_no_delete_action_even_to_a_superuser(admin_client, record):
    obj, _ = record

    form = admin_client.get(changelist(obj._meta.label_lower)).context["action_form"]

    actions = set() if form is None else {name for name, _ in form.fields["action"].choices}
    assert "delete_selected" not in actions


def test_its_page_is_shown_read_only(admin_client, record):
    obj, changes = record

    response = admin_client.get(url(obj, "change"))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="_save"' not in page
    for field in changes:
        assert f'name="{field}"' not in page


def test_a_manager_still_replays_a_callback_whose_page_is_read_only(client, settings):
    callback = wallet_callback_rejected_by_our_mistake(client, settings)
    back_office_sign_in(client, manager())

    done = confirm_action(client, "gateways.gatewaycallback", "replay_callbacks", callback)

    assert done.status_code == 302
    callback.refresh_from_db()
    assert callback.outcome == CallbackOutcome.ACCEPTED
    # The action is the manager's way to act on a callback: its page stays read-only.
    assert client.post(change(callback), {"outcome": "rejected"}).status_code == 403


def test_a_manager_still_resends_a_failed_notification_whose_page_is_read_only(client, mailoutbox):
    failed = email_notification(status=NotificationStatus.FAILED, attempts=3)
    back_office_sign_in(client, manager())

    done = confirm_action(client, "notifications.notification", "resend_notifications", failed)

    assert done.status_code == 302
    failed.refresh_from_db()
    assert failed.status == NotificationStatus.SENT
    assert [message.to for message in mailoutbox] == [[failed.recipient]]
    assert client.post(change(failed), {"recipient": "x@example.com"}).status_code == 403
