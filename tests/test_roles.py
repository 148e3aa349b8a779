"""The back office's roles: the data migration's groups, and what each role may do."""

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group

from accounts import roles
from accounts.models import User
from accounts.roles import MANAGERS, REVIEWERS
from accounts.services import user_create, user_grant_role
from tests.back_office import manager, reviewer
from tests.factories import PASSWORD, UserFactory

migration = importlib.import_module("accounts.migrations.0003_back_office_roles")
lockouts_migration = importlib.import_module("accounts.migrations.0005_sign_in_lockouts")


def test_the_migrations_hold_the_same_roles_as_the_roles_module():
    assert migration.REVIEWERS == lockouts_migration.REVIEWERS == roles.REVIEWERS
    assert migration.MANAGERS == lockouts_migration.MANAGERS == roles.MANAGERS
    assert {
        name: set(permissions) | set(lockouts_migration.ADDED[name])
        for name, permissions in migration.ROLES.items()
    } == {name: set(permissions) for name, permissions in roles.ROLES.items()}
    assert migration.CUSTOM_PERMISSION_NAMES == roles.CUSTOM_PERMISSION_NAMES


def group_permissions(name: str) -> set[tuple[str, str, str]]:
    return {
        (p.content_type.app_label, p.content_type.model, p.codename)
        for p in Group.objects.get(name=name).permissions.select_related("content_type")
    }


@pytest.mark.django_db
def test_the_migration_creates_both_groups_with_exactly_the_listed_permissions():
    assert set(Group.objects.values_list("name", flat=True)) >= {REVIEWERS, MANAGERS}
    assert group_permissions(REVIEWERS) == set(roles.REVIEWER_PERMISSIONS)
    assert group_permissions(MANAGERS) == set(roles.MANAGER_PERMISSIONS)
    # Managers hold everything reviewers do, and more.
    assert group_permissions(REVIEWERS) < group_permissions(MANAGERS)


@pytest.mark.django_db
def test_running_the_migrations_again_changes_nothing():
    migration.create_roles(apps, None)
    lockouts_migration.add_lockout_permissions(apps, None)

    assert Group.objects.filter(name__in=[REVIEWERS, MANAGERS]).count() == 2
    assert group_permissions(REVIEWERS) == set(roles.REVIEWER_PERMISSIONS)
    assert group_permissions(MANAGERS) == set(roles.MANAGER_PERMISSIONS)


# What tells the two roles apart: a reviewer looks and reprocesses, a manager also moves money.
REVIEWER_MAY = [
    "payments.view_payment",
    "payments.reprocess_payment",
    "payments.review_payment",
    "payments.view_ledgerentry",
    "payments.change_reconciliationdiscrepancy",
    "orders.view_order",
    "gateways.view_gatewaycallback",
    "gateways.view_gatewayswitch",
    "notifications.view_notification",
    "accounts.view_user",
]
MANAGER_ONLY = [
    "payments.refund_payment",
    "payments.approve_refund",
    "payments.export_payment",
    "gateways.change_gatewayswitch",
    "gateways.replay_callback",
    "notifications.resend_notification",
]
NOBODY_BUT_SUPERUSERS = [
    "payments.change_payment",
    "payments.delete_payment",
    "payments.change_ledgerentry",
    "orders.change_order",
    "accounts.change_user",
    "gateways.delete_gatewaycallback",
    "orders.add_order",
]


@pytest.mark.django_db
@pytest.mark.parametrize("permission", REVIEWER_MAY)
def test_reviewers_and_managers_may_view_and_reprocess(permission):
    assert reviewer().has_perm(permission)
    assert manager().has_perm(permission)


@pytest.mark.django_db
@pytest.mark.parametrize("permission", MANAGER_ONLY)
def test_only_managers_may_refund_export_pause_replay_and_resend(permission):
    assert not reviewer().has_perm(permission)
    assert manager().has_perm(permission)


@pytest.mark.django_db
@pytest.mark.parametrize("permission", NOBODY_BUT_SUPERUSERS)
def test_no_role_may_edit_money_or_users_by_hand(permission):
    assert not reviewer().has_perm(permission)
    assert not manager().has_perm(permission)


@pytest.mark.django_db
def test_a_user_created_with_a_role_is_staff_but_not_a_superuser():
    user = user_create(email="new@example.com", password=PASSWORD, roles=[REVIEWERS])

    assert user.is_staff
    assert not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == [REVIEWERS]


@pytest.mark.django_db
def test_a_user_created_without_a_role_is_a_customer():
    user = user_create(email="new@example.com", password=PASSWORD)

    assert not user.is_staff
    assert not user.is_superuser
    assert not user.has_perm("payments.view_payment")


@pytest.mark.django_db
def test_granting_a_role_makes_a_customer_staff_and_twice_is_once():
    user = UserFactory.create()

    user_grant_role(user=user, role=MANAGERS)
    user_grant_role(user=user, role=MANAGERS)

    user.refresh_from_db()
    assert user.is_staff
    assert user.groups.filter(name=MANAGERS).count() == 1


@pytest.mark.django_db
def test_an_unknown_role_is_refused_and_nothing_is_created():
    with pytest.raises(ValueError, match="No back-office role"):
        user_create(email="new@example.com", password=PASSWORD, roles=["Payment admins"])

    assert not User.objects.filter(email="new@example.com").exists()
