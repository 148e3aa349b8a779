from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("gateways", "0009_gateway_circuit_breaker"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="gatewayswitch",
            options={"verbose_name_plural": "gateway switches"},
        ),
    ]
