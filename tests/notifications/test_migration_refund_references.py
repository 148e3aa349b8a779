"""notifications 0006: refund messages sent before each refund had its own message are given
the refund they told of, so a redelivered task finds them instead of sending them again."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from payments.models import PaymentStatus
from payments.services import payment_event_record
from tests.factories import PaymentFactory

BEFORE = [("notifications", "0005_verbose_names_translatable")]
AFTER = [("notifications", "0006_notification_reference_and_details")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_refund_messages_already_sent_name_the_refund_that_refunded_the_payment():
    old_apps = migrate(BEFORE)
    try:
        payment = PaymentFactory.create(status=PaymentStatus.REFUNDED)
        untold = PaymentFactory.create(status=PaymentStatus.COMPLETED)
        for number, (amount, total) in enumerate([("100.00", "100.00"), ("860.00", "960.00")], 1):
            payment_event_record(
                payment_id=payment.pk,
                type="refund_applied",
                data={
                    "refund": f"{payment.public_id}-refund-{number}",
                    "amount": amount,
                    "refunded_amount": total,
                },
            )
        notification_then = old_apps.get_model("notifications", "Notification")
        for channel, recipient in [("email", payment.user.email), ("sns", "arn:aws:sns:topic")]:
            notification_then.objects.create(
                payment_id=payment.pk,
                event="refunded",
                channel=channel,
                recipient=recipient,
                status="sent",
            )
        notification_then.objects.create(
            payment_id=untold.pk, event="completed", channel="email", recipient="a@example.com"
        )
    finally:
        new_apps = migrate(AFTER)

    Notification = new_apps.get_model("notifications", "Notification")
    refunded = Notification.objects.filter(event="refunded")
    assert {(n.channel, n.reference) for n in refunded} == {
        ("email", f"{payment.public_id}-refund-2"),
        ("sns", f"{payment.public_id}-refund-2"),
    }
    assert {str(n.details) for n in refunded} == {
        str({"refund_amount": "860.00", "refunded_amount": "960.00"})
    }
    completed = Notification.objects.get(event="completed")
    assert (completed.reference, completed.details) == ("", {})
