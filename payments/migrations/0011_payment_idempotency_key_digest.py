"""Payments' idempotency keys are compared by their sha256 (`Payment.idempotency_key_digest`),
not as text: MariaDB's collation took "abc", "ABC" and "abc " for one key.

The database computes the digest, for the rows already there too. The new unique constraint is
added before the old one goes, so no moment is left without one; it holds for every existing row,
as the old one was stricter."""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0010_verbose_names_translatable"),
    ]

    operations = [
        migrations.AddField(
            model_name="payment",
            name="idempotency_key_digest",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.db.models.functions.text.SHA256("idempotency_key"),
                output_field=models.CharField(max_length=64),
                verbose_name="idempotency key digest",
            ),
        ),
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.UniqueConstraint(
                fields=("user", "idempotency_key_digest"),
                name="payment_idempotency_key_digest_per_user",
            ),
        ),
        migrations.RemoveConstraint(
            model_name="payment",
            name="payment_idempotency_key_per_user",
        ),
    ]
