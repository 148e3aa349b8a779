from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("gateways", "0007_replay_permission"),
    ]

    operations = [
        # StoreExpireDate is minutes for CVS but days for BARCODE: kept as posted.
        migrations.RenameField(
            model_name="simulatedecpaytrade",
            old_name="store_expire_minutes",
            new_name="store_expire_date",
        ),
        migrations.AddField(
            model_name="simulatedecpaytrade",
            name="result_due_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
