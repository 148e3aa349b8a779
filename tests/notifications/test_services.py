"""Customer notifications: email through Django's mail, SNS through a real moto server."""

import re
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from notifications.channels import CHANNELS, email_send
from notifications.models import Notification, NotificationChannel, NotificationStatus
from notifications.services import (
    MAX_ATTEMPTS,
    RefundNotice,
    notification_retry_failed,
    notification_send,
    notify_payment_event,
)
from payments.models import PaymentKind, PaymentStatus
from tests.aws import topic_arn
from tests.concurrency import run_at_once
from tests.factories import OrderFactory, PaymentFactory, email_notification
from tests.processes import free_port

CARD_TOKEN = "tok_4242424242424242_secret"


def order_payment(**fields):
    order = OrderFactory.create()
    return PaymentFactory.create(
        kind=PaymentKind.ORDER,
        order=order,
        user=order.user,
        amount=order.total,
        card_token=CARD_TOKEN,
        card_brand="visa",
        card_last4="4242",
        card_exp_month=12,
        card_exp_year=2031,
        **fields,
    )


def refund_notice(payment, amount: str, *, refunded: str | None = None, key: str = "1"):
    """A refund of `amount`, `refunded` in all with it (`amount` when None)."""
    return RefundNotice(
        key=f"{payment.public_id}-refund-{key}",
        amount=Decimal(amount),
        refunded_amount=Decimal(refunded or amount),
    )


def by_channel(notifications):
    return {notification.channel: notification for notification in notifications}


@pytest.mark.django_db
def test_completed_payment_emails_the_customer_once_in_text_and_html(mailoutbox):
    payment = order_payment(status=PaymentStatus.COMPLETED)

    [notification] = notify_payment_event(payment=payment, event="completed")

    assert (notification.channel, notification.status) == ("email", NotificationStatus.SENT)
    assert notification.recipient == payment.user.email
    assert notification.attempts == 1
    assert notification.sent_at is not None
    [email] = mailoutbox
    assert email.to == [payment.user.email]
    assert email.subject == "Payment received: 960.00 TWD"
    [(html, mimetype)] = email.alternatives
    assert mimetype == "text/html"
    for body in (email.body, html):
        assert "We have received your payment for order" in body
        assert payment.public_id in body
        assert "960.00 TWD" in body
        assert payment.order.number in body
        assert "visa ending in 4242" in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("event", "subject", "says"),
    [
        ("completed", "Payment received: 500.00 TWD", "We have received your payment."),
        ("failed", "Payment failed: 500.00 TWD", "Your payment did not go through"),
        ("refunded", "Payment refunded: 500.00 TWD", "We have refunded your payment in full"),
    ],
)
def test_each_event_has_its_own_subject_and_text(event, subject, says, mailoutbox):
    payment = PaymentFactory.create(status=event)
    whole = refund_notice(payment, "500.00") if event == "refunded" else None

    notify_payment_event(payment=payment, event=event, refund=whole)

    [email] = mailoutbox
    assert email.subject == subject
    assert says in email.body
    assert says in email.alternatives[0][0]
    assert "Order:" not in email.body


@pytest.mark.django_db
def test_a_declined_payment_says_why_in_words_escaped_in_html_only(mailoutbox):
    payment = PaymentFactory.create(
        status=PaymentStatus.FAILED, failure_reason="declined: incorrect_cvc"
    )

    notify_payment_event(payment=payment, event="failed")

    [email] = mailoutbox
    assert "did not go through: the card's security code was not right." in email.body
    assert "the card&#x27;s security code was not right" in email.alternatives[0][0]
    assert "incorrect_cvc" not in email.body


@pytest.mark.django_db
@pytest.mark.parametrize(
    "reason", ["process step crashed: ValueError: <oops>", "gateway error: upstream_error: 502"]
)
def test_a_failure_that_is_ours_tells_the_customer_nothing_they_cannot_act_on(mailoutbox, reason):
    payment = PaymentFactory.create(status=PaymentStatus.FAILED, failure_reason=reason)

    notify_payment_event(payment=payment, event="failed")

    [email] = mailoutbox
    assert "did not go through. You can try again" in email.body
    assert reason.split(":")[0] not in email.body


@pytest.mark.django_db
def test_sns_message_is_published_once_and_reads_back(sns_topic, mailoutbox):
    payment = order_payment(status=PaymentStatus.COMPLETED)

    notifications = by_channel(notify_payment_event(payment=payment, event="completed"))

    assert notifications["sns"].recipient == sns_topic.arn
    assert notifications["sns"].status == NotificationStatus.SENT
    assert sns_topic.published() == [
        {
            "subject": "Payment received: 960.00 TWD",
            "body": {
                "event": "completed",
                "payment_id": payment.public_id,
                "status": "completed",
                "amount": "960.00",
                "currency": "TWD",
                "order_number": payment.order.number,
            },
        }
    ]
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_each_refund_is_a_message_of_its_own_and_keeps_what_it_said(sns_topic, mailoutbox):
    payment = order_payment(status=PaymentStatus.COMPLETED)
    first = refund_notice(payment, "100.00", key="1")
    last = refund_notice(payment, "860.00", refunded="960.00", key="2")

    notify_payment_event(payment=payment, event="refunded", refund=first)
    notify_payment_event(payment=payment, event="refunded", refund=last)
    payment.status = PaymentStatus.REFUNDED
    payment.save()
    # A retry of the first message, once the payment is refunded in full, says what it said.
    Notification.objects.filter(reference=first.key, channel="email").update(status="failed")
    notification_retry_failed(older_than_seconds=0)

    bodies = [email.body for email in mailoutbox]
    number = payment.order.number
    partly = (
        f"We have refunded 100.00 TWD of your payment for order {number}. "
        "In all, 100.00 TWD of the 960.00 TWD you paid is refunded."
    )
    assert partly in bodies[0]
    assert "Refunded: 100.00 TWD\nStatus: partly refunded" in bodies[0]
    assert f"We have refunded the last 860.00 TWD of your payment for order {number}" in bodies[1]
    assert "Refunded: 960.00 TWD\nStatus: refunded" in bodies[1]
    # Sent once the payment is refunded in full, the retry still says where that refund left it.
    assert partly in bodies[2]
    assert "Refunded: 100.00 TWD\nStatus: partly refunded" in bodies[2]
    html = mailoutbox[2].alternatives[0][0]
    assert '<th align="left">Status</th><td>partly refunded</td>' in html
    assert [message["body"] for message in sns_topic.published()] == [
        {
            "event": "refunded",
            "payment_id": payment.public_id,
            "status": "completed",
            "amount": "960.00",
            "currency": "TWD",
            "order_number": number,
            "refund_amount": "100.00",
            "refunded_amount": "100.00",
        },
        {
            "event": "refunded",
            "payment_id": payment.public_id,
            "status": "completed",
            "amount": "960.00",
            "currency": "TWD",
            "order_number": number,
            "refund_amount": "860.00",
            "refunded_amount": "960.00",
        },
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(("event", "names_a_refund"), [("refunded", False), ("completed", True)])
def test_only_a_refunded_message_names_a_refund(event, names_a_refund, mailoutbox):
    payment = order_payment(status=PaymentStatus.COMPLETED)
    refund = refund_notice(payment, "100.00") if names_a_refund else None

    with pytest.raises(ValueError, match="names its refund"):
        notify_payment_event(payment=payment, event=event, refund=refund)

    assert not Notification.objects.exists()
    assert mailoutbox == []


@pytest.mark.django_db
def test_sns_message_of_a_failed_payment_carries_the_reason(sns_topic):
    payment = PaymentFactory.create(status=PaymentStatus.FAILED, failure_reason="Card expired")

    notify_payment_event(payment=payment, event="failed")

    [message] = sns_topic.published()
    assert message["body"]["failure_reason"] == "Card expired"
    assert "order_number" not in message["body"]


@pytest.mark.django_db
def test_notifying_the_same_event_twice_sends_nothing_more(sns_topic, mailoutbox):
    payment = order_payment(status=PaymentStatus.COMPLETED)

    first = notify_payment_event(payment=payment, event="completed")
    again = notify_payment_event(payment=payment, event="completed")

    assert [notification.pk for notification in again] == [n.pk for n in first]
    assert Notification.objects.filter(payment=payment).count() == 2
    assert len(mailoutbox) == 1
    assert len(sns_topic.published()) == 1
    assert {notification.attempts for notification in again} == {1}


@pytest.mark.django_db
def test_sns_is_off_when_no_topic_is_set(mailoutbox):
    payment = PaymentFactory.create(status=PaymentStatus.COMPLETED)

    notifications = notify_payment_event(payment=payment, event="completed")

    assert [notification.channel for notification in notifications] == ["email"]
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_an_event_without_a_message_is_refused():
    payment = PaymentFactory.create()

    with pytest.raises(ValueError, match="pending"):
        notify_payment_event(payment=payment, event="pending")

    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_a_missing_topic_is_recorded_as_failed_and_does_not_stop_the_email(settings, mailoutbox):
    settings.NOTIFICATIONS_SNS_TOPIC_ARN = topic_arn("no-such-topic", settings.AWS_REGION)
    payment = PaymentFactory.create(status=PaymentStatus.COMPLETED)

    notifications = by_channel(notify_payment_event(payment=payment, event="completed"))

    sns = notifications["sns"]
    assert sns.status == NotificationStatus.FAILED
    assert sns.attempts == 1
    assert sns.sent_at is None
    assert "NotFound" in sns.last_error
    assert notifications["email"].status == NotificationStatus.SENT
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_an_unreachable_sns_endpoint_is_recorded_as_failed(monkeypatch, sns_topic, mailoutbox):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SNS", f"http://127.0.0.1:{free_port()}")
    payment = PaymentFactory.create(status=PaymentStatus.COMPLETED)

    notifications = by_channel(notify_payment_event(payment=payment, event="completed"))

    assert notifications["sns"].status == NotificationStatus.FAILED
    assert "Could not connect" in notifications["sns"].last_error
    assert notifications["email"].status == NotificationStatus.SENT
    assert sns_topic.published() == []


@pytest.mark.django_db
def test_the_sweep_sends_a_failed_message_once_when_the_topic_is_back(
    make_topic, settings, mailoutbox
):
    name = f"payments-{uuid.uuid4().hex}"
    settings.NOTIFICATIONS_SNS_TOPIC_ARN = topic_arn(name, settings.AWS_REGION)
    payment = PaymentFactory.create(status=PaymentStatus.COMPLETED)
    notify_payment_event(payment=payment, event="completed")
    topic = make_topic(name)

    tried = notification_retry_failed(older_than_seconds=0)
    tried_again = notification_retry_failed(older_than_seconds=0)

    assert (tried, tried_again) == (1, 0)
    assert len(topic.published()) == 1
    assert len(mailoutbox) == 1
    sns = Notification.objects.get(channel=NotificationChannel.SNS)
    assert (sns.status, sns.attempts) == (NotificationStatus.SENT, 2)
    assert sns.sent_at is not None


@pytest.mark.django_db
def test_the_sweep_leaves_a_fresh_failure_for_later(settings):
    settings.NOTIFICATIONS_SNS_TOPIC_ARN = topic_arn("no-such-topic", settings.AWS_REGION)
    payment = PaymentFactory.create(status=PaymentStatus.COMPLETED)
    notify_payment_event(payment=payment, event="completed")

    assert notification_retry_failed(older_than_seconds=60) == 0


@pytest.mark.django_db
def test_the_sweep_takes_over_a_message_whose_sender_died(mailoutbox):
    stuck = email_notification(status="sending", attempts=1, idle=timedelta(minutes=11))
    busy = email_notification(status="sending", attempts=1, idle=timedelta(minutes=1))

    assert notification_retry_failed() == 1

    [email] = mailoutbox
    assert email.to == [stuck.recipient]
    stuck.refresh_from_db()
    busy.refresh_from_db()
    assert (stuck.status, stuck.attempts) == (NotificationStatus.SENT, 2)
    assert (busy.status, busy.attempts) == (NotificationStatus.SENDING, 1)


@pytest.mark.django_db
def test_the_sweep_gives_up_after_the_last_attempt(mailoutbox):
    email_notification(status="failed", attempts=MAX_ATTEMPTS, idle=timedelta(hours=1))

    assert notification_retry_failed() == 0
    assert mailoutbox == []


@pytest.mark.django_db
def test_a_message_another_sender_holds_is_left_alone(mailoutbox):
    held = email_notification(status="sending", attempts=1)

    notification = notification_send(notification_id=held.pk)

    assert (notification.status, notification.attempts) == (NotificationStatus.SENDING, 1)
    assert mailoutbox == []


@pytest.mark.django_db
def test_no_message_carries_card_data_beyond_brand_and_last4(sns_topic, mailoutbox):
    payment = order_payment(status=PaymentStatus.COMPLETED, failure_reason="Declined")

    for event in ("completed", "failed"):
        notify_payment_event(payment=payment, event=event)
    notify_payment_event(payment=payment, event="refunded", refund=refund_notice(payment, "100.00"))

    texts = [str(message) for message in sns_topic.published()]
    for email in mailoutbox:
        texts += [email.subject, email.body, email.alternatives[0][0]]
    assert len(texts) == 3 + 3 * 3
    for text in texts:
        assert CARD_TOKEN not in text
        assert "2031" not in text
        # A card number is 13 to 19 digits; the 12-digit order number is not one.
        assert not re.search(r"\d{13,}", text)
    assert all("visa ending in 4242" in email.body for email in mailoutbox)


SENDERS = 8


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_of_one_message_send_it_once(monkeypatch, mailoutbox):
    """8 threads, each with its own connection, send the same pending notification at once."""
    notification = email_notification(status="pending")

    def slow_email_send(**message):
        # Keeps the winner mid-send while the others try to claim the row.
        time.sleep(0.3)
        email_send(**message)

    monkeypatch.setitem(CHANNELS, NotificationChannel.EMAIL, slow_email_send)

    run_at_once(lambda: notification_send(notification_id=notification.pk), threads=SENDERS)

    assert len(mailoutbox) == 1
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == (NotificationStatus.SENT, 1)
