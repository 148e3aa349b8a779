"""The back office's pages for orders, users, callbacks and notifications, as each role sees
them, and the replay and resend actions through the admin's own forms."""

import re
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Model
from django.urls import reverse

from accounts.models import User
from core.models import MoneyField
from gateways.models import CallbackOutcome, Gateway, GatewayCallback
from notifications.models import Notification, NotificationStatus
from orders.models import DiscountCode, Order, PaymentHeader
from payments.models import (
    GatewayOperation,
    LedgerEntry,
    LedgerEntryType,
    Payment,
    PaymentStatus,
)
from tests.back_office import back_office_sign_in, manager, reviewer
from tests.factories import PaymentFactory, UserFactory, email_notification
from tests.payments.test_callback_replay import wallet_callback_rejected_by_our_mistake

HOSTILE_BODY = '<script>alert("pwned")</script>&amount=1'


@pytest.fixture
def customer_with_ledger(db) -> User:
    customer = UserFactory.create()
    deposit = PaymentFactory.create(user=customer, status=PaymentStatus.COMPLETED)
    LedgerEntry.objects.create(
        user=customer,
        payment=deposit,
        entry_type=LedgerEntryType.DEPOSIT,
        amount=Decimal("500.00"),
        balance_after=Decimal("500.00"),
    )
    User.objects.filter(pk=customer.pk).update(balance=Decimal("500.00"))
    return customer


@pytest.fixture
def hostile_callback(db) -> GatewayCallback:
    return GatewayCallback.objects.create(
        gateway=Gateway.ECPAY,
        body=HOSTILE_BODY,
        signature_valid=False,
        outcome=CallbackOutcome.REJECTED,
        outcome_reason="CheckMacValue error",
    )


@pytest.fixture
def failed_notification(db) -> Notification:
    notification = email_notification(status=NotificationStatus.FAILED, attempts=12)
    Notification.objects.filter(pk=notification.pk).update(last_error="SMTPServerDisconnected")
    return Notification.objects.get(pk=notification.pk)


def changelist(label: str) -> str:
    return reverse(f"admin:{label.replace('.', '_')}_changelist")


def change(obj: Model) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


MY_CHANGELISTS = [
    "orders.order",
    "orders.orderitem",
    "orders.orderevent",
    "orders.paymentheader",
    "accounts.user",
    "gateways.gatewaycallback",
    "notifications.notification",
]
ROLES = {"reviewer": reviewer, "manager": manager}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("label", MY_CHANGELISTS)
def test_every_list_renders_for_each_role(client, role, label, paid_order):
    back_office_sign_in(client, ROLES[role]())

    response = client.get(changelist(label))

    assert response.status_code == 200


@pytest.mark.parametrize("role", ROLES)
def test_an_order_page_shows_its_items_and_how_it_was_paid(client, role, paid_order):
    back_office_sign_in(client, ROLES[role]())

    page = client.get(change(paid_order)).content.decode()

    assert paid_order.number in page
    assert "Oolong tea 150 g" in page
    assert "ch_header_1" in page
    assert "960.00" in page


@pytest.mark.parametrize("role", ROLES)
def test_a_user_page_shows_the_balance_and_the_newest_ledger_entries(
    client, role, customer_with_ledger
):
    back_office_sign_in(client, ROLES[role]())

    page = client.get(change(customer_with_ledger)).content.decode()

    assert "Ledger entries (the newest 20)" in page
    assert page.count("500.00") >= 3  # the balance, the entry and the balance after it


@pytest.mark.django_db
def test_the_user_page_lists_only_the_newest_ledger_entries(admin_client, customer_with_ledger):
    deposit = PaymentFactory.create(user=customer_with_ledger, status=PaymentStatus.COMPLETED)
    for number in range(1, 26):
        LedgerEntry.objects.create(
            user=customer_with_ledger,
            payment=deposit,
            entry_type=LedgerEntryType.REFUND,
            refund_number=number,
            amount=Decimal(number),
            balance_after=Decimal("500.00") + number,
        )

    page = admin_client.get(change(customer_with_ledger)).content.decode()

    assert "525.00" in page  # the newest entry's balance after
    assert "505.00" not in page  # the 21st newest is left to the ledger's own list


@pytest.mark.parametrize("role", ROLES)
def test_a_callback_body_is_shown_as_text_never_as_html(client, role, hostile_callback):
    back_office_sign_in(client, ROLES[role]())

    page = client.get(change(hostile_callback)).content.decode()

    assert "<pre>&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;&amp;amount=1</pre>" in page
    assert "<script>alert" not in page
    assert "CheckMacValue error" in page


@pytest.mark.parametrize("role", ROLES)
def test_a_notification_page_shows_its_status_attempts_and_error(client, role, failed_notification):
    back_office_sign_in(client, ROLES[role]())

    page = client.get(change(failed_notification)).content.decode()

    assert "Failed" in page
    assert "SMTPServerDisconnected" in page


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_discount_codes_are_not_for_either_role(client, role):
    back_office_sign_in(client, ROLES[role]())

    assert client.get(changelist("orders.discountcode")).status_code == 403


@pytest.mark.parametrize("label", MY_CHANGELISTS)
def test_customers_cannot_open_any_of_these_pages(client, customer, label):
    back_office_sign_in(client, customer)

    response = client.get(changelist(label))

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize(
    "label", ["gateways.gatewaycallback", "notifications.notification", "orders.order"]
)
def test_nobody_adds_these_rows_by_hand_not_even_a_superuser(admin_client, label):
    url = reverse(f"admin:{label.replace('.', '_')}_add")

    assert admin_client.get(url).status_code == 403


def test_nobody_deletes_or_edits_a_callback_not_even_a_superuser(admin_client, hostile_callback):
    delete = reverse("admin:gateways_gatewaycallback_delete", args=[hostile_callback.pk])

    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    page = admin_client.get(change(hostile_callback)).content.decode()
    assert 'name="outcome"' not in page
    assert GatewayCallback.objects.filter(pk=hostile_callback.pk).exists()


# Money is never editable by hand: no change page has an input for any money field.

MONEY_FIELDS = {
    field.name
    for model in (Order, PaymentHeader, DiscountCode, User, LedgerEntry, Payment, GatewayOperation)
    for field in model._meta.get_fields()
    if isinstance(field, MoneyField)
} | {"unit_price"}
INPUT_NAME = re.compile(r'<(?:input|select|textarea)\b[^>]*\bname="([^"]+)"')


def input_names(page: str) -> set[str]:
    # Inline inputs are prefixed ("items-0-unit_price"): the field is the last part.
    return {name.rsplit("-", 1)[-1] for name in INPUT_NAME.findall(page)}


@pytest.fixture
def every_money_row(paid_order, customer_with_ledger) -> list[Model]:
    payment = paid_order.payment_header.payment
    operation = GatewayOperation.objects.create(
        payment=payment,
        gateway=Gateway.CARD,
        kind="charge",
        idempotency_key="op-money-1",
        amount=payment.amount,
    )
    code = DiscountCode.objects.create(code="TEA100", amount_off=Decimal("100.00"))
    return [
        paid_order,
        paid_order.items.get(),
        paid_order.payment_header,
        code,
        customer_with_ledger,
        customer_with_ledger.ledger_entries.get(),
        payment,
        operation,
    ]


def test_no_change_page_has_an_input_for_money_even_for_a_superuser(admin_client, every_money_row):
    assert {"amount", "total", "balance", "unit_price", "total_paid"} <= MONEY_FIELDS
    for row in every_money_row:
        response = admin_client.get(change(row))
        assert response.status_code == 200, row
        assert not input_names(response.content.decode()) & MONEY_FIELDS, row


def test_a_new_discount_code_takes_its_amount_once(admin_client, db):
    page = admin_client.get(reverse("admin:orders_discountcode_add")).content.decode()

    assert "amount_off" in input_names(page)


# Replaying callbacks through the admin's own forms


def select_action(client, label: str, action: str, *objects: Model):
    """The changelist's action form, as the browser posts it."""
    return client.post(
        changelist(label),
        {
            "action": action,
            "select_across": "0",
            "index": "0",
            ACTION_CHECKBOX_NAME: [obj.pk for obj in objects],
        },
    )


def confirm_action(client, label: str, action: str, *objects: Model):
    """The confirmation page's form, as the browser posts it."""
    return client.post(
        changelist(label),
        {"action": action, "post": "yes", ACTION_CHECKBOX_NAME: [obj.pk for obj in objects]},
    )


@pytest.mark.django_db
def test_a_manager_replays_a_callback_after_confirming(client, settings, hostile_callback):
    callback = wallet_callback_rejected_by_our_mistake(client, settings)
    staff = manager()
    back_office_sign_in(client, staff)
    assert "replay_callbacks" in client.get(changelist("gateways.gatewaycallback")).content.decode()

    confirmation = select_action(
        client, "gateways.gatewaycallback", "replay_callbacks", callback, hostile_callback
    )

    assert confirmation.status_code == 200
    page = confirmation.content.decode()
    assert "Yes, replay them" in page
    assert f"{callback.pk}: Wallet" in page
    callback.refresh_from_db()
    assert callback.outcome == CallbackOutcome.REJECTED  # nothing happens before the yes

    done = confirm_action(
        client, "gateways.gatewaycallback", "replay_callbacks", callback, hostile_callback
    )

    assert done.status_code == 302
    callback.refresh_from_db()
    assert callback.outcome == CallbackOutcome.ACCEPTED
    assert Payment.objects.filter(gateway=Gateway.WALLET).count() == 1
    messages = [str(m) for m in client.get(done["Location"]).context["messages"]]
    assert f"Callback {callback.pk}: was rejected, now accepted." in messages
    assert any(
        m.startswith(f"Callback {hostile_callback.pk}: was rejected, now rejected")
        for m in messages
    )


@pytest.mark.django_db
def test_a_reviewer_cannot_replay_a_callback(client, settings):
    callback = wallet_callback_rejected_by_our_mistake(client, settings)
    back_office_sign_in(client, reviewer())
    assert (
        "replay_callbacks"
        not in client.get(changelist("gateways.gatewaycallback")).content.decode()
    )

    asked = select_action(client, "gateways.gatewaycallback", "replay_callbacks", callback)
    forced = confirm_action(client, "gateways.gatewaycallback", "replay_callbacks", callback)

    # The action is not theirs: the admin shows the list again or says no action was chosen.
    for response in (asked, forced):
        assert response.status_code in (200, 302)
        assert "Yes, replay them" not in response.content.decode()
    callback.refresh_from_db()
    assert callback.outcome == CallbackOutcome.REJECTED
    assert not Payment.objects.filter(gateway=Gateway.WALLET).exists()


# Resending notifications through the admin's own forms


def test_a_manager_resends_a_failed_notification_once_and_never_a_sent_one(
    client, failed_notification, mailoutbox
):
    sent = email_notification(status=NotificationStatus.SENT, attempts=1)
    back_office_sign_in(client, manager())

    confirmation = select_action(
        client, "notifications.notification", "resend_notifications", failed_notification, sent
    )

    assert confirmation.status_code == 200
    page = confirmation.content.decode()
    assert "Yes, send them again" in page
    assert "Not failed, so not sent again:" in page
    assert mailoutbox == []

    done = confirm_action(
        client, "notifications.notification", "resend_notifications", failed_notification, sent
    )

    assert done.status_code == 302
    failed_notification.refresh_from_db()
    assert failed_notification.status == NotificationStatus.SENT
    assert failed_notification.attempts == 13
    assert [message.to for message in mailoutbox] == [[failed_notification.recipient]]
    sent.refresh_from_db()
    assert sent.attempts == 1

    # Posting the confirmation again sends nothing more: the message is sent now.
    confirm_action(
        client, "notifications.notification", "resend_notifications", failed_notification
    )
    assert len(mailoutbox) == 1


def test_a_reviewer_cannot_resend_a_notification(client, failed_notification, mailoutbox):
    back_office_sign_in(client, reviewer())
    assert (
        "resend_notifications"
        not in client.get(changelist("notifications.notification")).content.decode()
    )

    asked = select_action(
        client, "notifications.notification", "resend_notifications", failed_notification
    )
    forced = confirm_action(
        client, "notifications.notification", "resend_notifications", failed_notification
    )

    for response in (asked, forced):
        assert response.status_code in (200, 302)
        assert "Yes, send them again" not in response.content.decode()
    failed_notification.refresh_from_db()
    assert failed_notification.status == NotificationStatus.FAILED
    assert mailoutbox == []
