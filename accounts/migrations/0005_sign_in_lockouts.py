"""The back office's roles see sign-in lockouts (django-axes' access attempts), and managers may
lift one (see accounts/roles.py). A copy of what this adds, as 0003 holds its lists: a migration
must not import code that can change; tests/test_roles.py checks 0003 and this add up to the
roles module."""

from typing import Any

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

REVIEWERS = "Payment reviewers"
MANAGERS = "Payment managers"

VIEW_LOCKOUTS = ("axes", "accessattempt", "view_accessattempt")
LIFT_LOCKOUTS = ("axes", "accessattempt", "delete_accessattempt")

ADDED: dict[str, tuple[tuple[str, str, str], ...]] = {
    REVIEWERS: (VIEW_LOCKOUTS,),
    MANAGERS: (VIEW_LOCKOUTS, LIFT_LOCKOUTS),
}


def _permission(apps: Apps, app_label: str, model: str, codename: str) -> Any:
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    # On a new database Django creates content types and permissions only after the last
    # migration: create what does not exist yet, find what does.
    content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
    verbose_name = apps.get_model(app_label, model)._meta.verbose_name_raw
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type,
        codename=codename,
        defaults={"name": f"Can {codename.split('_')[0]} {verbose_name}"},
    )
    return permission


def add_lockout_permissions(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Group = apps.get_model("auth", "Group")
    for name, permissions in ADDED.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*(_permission(apps, *permission) for permission in permissions))


def remove_lockout_permissions(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Group = apps.get_model("auth", "Group")
    for name, permissions in ADDED.items():
        group = Group.objects.filter(name=name).first()
        if group is not None:
            codenames = [codename for _, _, codename in permissions]
            group.permissions.remove(
                *group.permissions.filter(
                    content_type__app_label="axes", codename__in=codenames
                )
            )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_user_balance_fits_column"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(add_lockout_permissions, remove_lockout_permissions)]
