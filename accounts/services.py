"""Every write to users."""

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
