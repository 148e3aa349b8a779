"""Every write to users."""

from collections.abc import Sequence

from django.contrib.auth.models import Group, Permission
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token

from accounts.models import User
from accounts.roles import ROLES


def user_create(
    *, email: str, password: str, first_name: str = "", roles: Sequence[str] = ()
) -> User:
    """Create a user who signs in with `email`.

    With `roles` (names from `accounts.roles`) the user is staff: they may open the back office,
    where they see and do only what their roles allow. Nobody is made a superuser here: that
    stays a deliberate `createsuperuser`.
    """
    with transaction.atomic():
        user = User.objects.create_user(
            email=email, password=password, first_name=first_name, is_staff=bool(roles)
        )
        for role in roles:
            user_grant_role(user=user, role=role)
    return user


def user_grant_role(*, user: User, role: str) -> None:
    """Give `user` a back-office role (see `accounts.roles`); they become staff to use it.
    Granting a role the user holds already changes nothing.

    Raises ValueError for a name that is not a role.
    """
    if role not in ROLES:
        raise ValueError(f"No back-office role {role!r}; the roles are {', '.join(ROLES)}.")
    # The group is the data migration's; a missing one is a broken database, not a new role.
    user.groups.add(Group.objects.get(name=role))
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])


def user_grant_permission(*, user: User, permission: str) -> None:
    """Give `user` one permission (`app_label.codename`) on top of their roles."""
    app_label, codename = permission.split(".")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
    )


def user_set_password(*, user: User, password: str) -> None:
    user.set_password(password)
    user.save(update_fields=["password"])


def user_api_token(*, user: User) -> str:
    """The user's API token (DRF TokenAuthentication), created on first use."""
    token, _ = Token.objects.get_or_create(user=user)
    return str(token.key)


def user_from_cognito(
    *, sub: str, email: str | None, email_verified: bool, create: bool
) -> User | None:
    """The user whose Cognito subject is `sub`; None if there is none and none may be made.

    An unknown subject becomes a new customer, without a usable password (they sign in through
    Cognito), only when `create` is set and Cognito has verified `email`. It is never attached to
    an existing user with that email, in any letter case: whoever holds a Cognito account with
    someone's address would take over their account here.

    Safe to run twice at once for the same subject: the second insert fails on the unique
    subject and returns the first one's user.
    """
    try:
        return User.objects.get(cognito_sub=sub)
    except User.DoesNotExist:
        pass
    if not (create and email and email_verified):
        return None
    holder = User.objects.filter(email__iexact=email).first()
    if holder is not None:
        # Ours only if a request racing this one has just created it for this subject.
        return holder if holder.cognito_sub == sub else None
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, password=None, cognito_sub=sub)
    except IntegrityError:
        # Lost a race: to a request for the same subject (its user is ours), or to a user
        # signing up with this email (not ours).
        return User.objects.filter(cognito_sub=sub).first()
