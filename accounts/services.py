"""Every write to users."""

from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token

from accounts.models import User


def user_create(*, email: str, password: str, first_name: str = "", is_staff: bool = False) -> User:
    """Create a user who signs in with `email`. Staff created here are superusers too until the
    back office's roles exist."""
    if is_staff:
        return User.objects.create_superuser(email=email, password=password, first_name=first_name)
    return User.objects.create_user(email=email, password=password, first_name=first_name)


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
