import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0008_order_claims_and_credited_payments"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReconciliationCheck",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("asked_at", models.DateTimeField()),
                ("times_asked", models.PositiveIntegerField(default=1)),
                ("answer", models.JSONField(blank=True, default=dict)),
                (
                    "payment",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="reconciliation_check",
                        to="payments.payment",
                    ),
                ),
            ],
        ),
    ]
