from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("gateways", "0008_ecpay_simulator_barcode_results"),
    ]

    operations = [
        migrations.AddField(
            model_name="gatewayswitch",
            name="tripped_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="gatewayswitch",
            name="failures",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="gatewayswitch",
            name="failures_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="gatewayswitch",
            name="probed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
