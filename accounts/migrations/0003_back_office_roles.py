"""The back office's roles: "Payment reviewers" and "Payment managers" (see accounts/roles.py).

The lists are a copy of accounts/roles.py as it was when this migration was written: a migration
must not import code that can change. tests/test_roles.py checks that the two agree.
"""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

REVIEWERS = "Payment reviewers"
MANAGERS = "Payment managers"

REVIEWER_PERMISSIONS: tuple[tuple[str, str, str], ...] = (
    ("payments", "payment", "view_payment"),
    ("payments", "payment", "reprocess_payment"),
    ("payments", "payment", "review_payment"),
    ("payments", "paymentevent", "view_paymentevent"),
    ("payments", "gatewayoperation", "view_gatewayoperation"),
    ("payments", "ledgerentry", "view_ledgerentry"),
    # Reviewers resolve the discrepancies reconciliation finds.
    ("payments", "reconciliationdiscrepancy", "view_reconciliationdiscrepancy"),
    ("payments", "reconciliationdiscrepancy", "change_reconciliationdiscrepancy"),
    ("orders", "order", "view_order"),
    ("orders", "orderitem", "view_orderitem"),
    # An order's own records: its timeline and how it was paid (the order page's inline).
    ("orders", "orderevent", "view_orderevent"),
    ("orders", "paymentheader", "view_paymentheader"),
    ("gateways", "gatewaycallback", "view_gatewaycallback"),
    ("gateways", "gatewayswitch", "view_gatewayswitch"),
    ("notifications", "notification", "view_notification"),
    ("accounts", "user", "view_user"),
)

MANAGER_PERMISSIONS: tuple[tuple[str, str, str], ...] = (
    *REVIEWER_PERMISSIONS,
    ("payments", "payment", "refund_payment"),
    ("payments", "payment", "approve_refund"),
    ("payments", "payment", "export_payment"),
    # Pausing and unpausing a gateway.
    ("gateways", "gatewayswitch", "change_gatewayswitch"),
    ("gateways", "gatewaycallback", "replay_callback"),
    ("notifications", "notification", "resend_notification"),
)

ROLES: dict[str, tuple[tuple[str, str, str], ...]] = {
    REVIEWERS: REVIEWER_PERMISSIONS,
    MANAGERS: MANAGER_PERMISSIONS,
}

# The permissions no model's `Meta` declares (or had not yet when the roles were made): the
# migration creates them with these names if they do not exist.
CUSTOM_PERMISSION_NAMES: dict[str, str] = {
    "reprocess_payment": "Can reprocess payments",
    "review_payment": "Can mark payments reviewed",
    "refund_payment": "Can refund payments",
    "approve_refund": "Can approve refunds",
    "export_payment": "Can export payments",
    "replay_callback": "Can replay gateway callbacks",
    "resend_notification": "Can resend notifications",
}


def create_roles(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    for name, permissions in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        # On a new database Django creates content types and permissions only after the last
        # migration: create what does not exist yet, find what does.
        rows = []
        for app_label, model, codename in permissions:
            content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
            verbose_name = apps.get_model(app_label, model)._meta.verbose_name_raw
            default_name = f"Can {codename.split('_')[0]} {verbose_name}"
            permission, _ = Permission.objects.get_or_create(
                content_type=content_type,
                codename=codename,
                defaults={"name": CUSTOM_PERMISSION_NAMES.get(codename, default_name)},
            )
            rows.append(permission)
        group.permissions.set(rows)


def delete_roles(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    # The permissions stay: users may hold them directly.
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_user_cognito_sub"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("gateways", "0007_replay_permission"),
        ("notifications", "0004_resend_permission"),
        ("orders", "0003_discount_codes"),
        ("payments", "0006_refund_approvals_and_back_office_permissions"),
    ]

    operations = [migrations.RunPython(create_roles, delete_roles)]
