# Each refund of a payment is a message of its own (a partial refund used to send none, and the
# last one a message that named the payment's amount, not the refund's). Written by hand: the new
# unique constraint is added before the old one goes (MySQL will not drop the only index its
# payment foreign key can use), and refund messages already sent are given the refund they told of,
# so a redelivered task finds them instead of sending them again.

from django.db import migrations, models


def refund_messages_name_their_refund(apps, schema_editor):
    Notification = apps.get_model("notifications", "Notification")
    PaymentEvent = apps.get_model("payments", "PaymentEvent")
    told = Notification.objects.filter(event="refunded", reference="")
    for payment_id in told.values_list("payment_id", flat=True).distinct():
        # Before this migration only the refund that refunded all of a payment was told of:
        # the payment's last one.
        last = (
            PaymentEvent.objects.filter(payment_id=payment_id, type="refund_applied")
            .order_by("-pk")
            .first()
        )
        if last is None:
            continue
        told.filter(payment_id=payment_id).update(
            reference=last.data["refund"],
            details={
                "refund_amount": last.data["amount"],
                "refunded_amount": last.data["refunded_amount"],
            },
        )


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0005_verbose_names_translatable'),
        ('payments', '0010_verbose_names_translatable'),
    ]

    operations = [
        migrations.AddField(
            model_name='notification',
            name='details',
            field=models.JSONField(blank=True, default=dict, verbose_name='details'),
        ),
        migrations.AddField(
            model_name='notification',
            name='reference',
            field=models.CharField(blank=True, default='', max_length=64, verbose_name='reference'),
        ),
        migrations.AddConstraint(
            model_name='notification',
            constraint=models.UniqueConstraint(fields=('payment', 'event', 'reference', 'channel', 'recipient'), name='notification_once_per_event_and_recipient'),
        ),
        migrations.RemoveConstraint(
            model_name='notification',
            name='notification_once_per_recipient',
        ),
        migrations.RunPython(refund_messages_name_their_refund, migrations.RunPython.noop),
    ]
