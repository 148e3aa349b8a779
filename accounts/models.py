from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.models import MONEY_MAX, ZERO, MoneyField, currency_field


class UserManager(DjangoUserManager["User"]):
    """Users sign in with their email address; there is no username."""

    def _create_user_with_email(
        self, email: str, password: str | None, **extra_fields: Any
    ) -> "User":
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra_fields: Any
    ) -> "User":
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user_with_email(email, password, **extra_fields)

    def create_superuser(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra_fields: Any
    ) -> "User":
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user_with_email(email, password, **extra_fields)


class User(AbstractUser):
    """A customer or a member of staff.

    `balance` is the user's stored value. Only the ledger services in `payments.services` change
    it, under a row lock and with a ledger entry each time, so it always equals the sum of the
    user's ledger entries.
    """

    username = None  # type: ignore[assignment]
    email = models.EmailField(_("email address"), unique=True)
    balance = MoneyField(default=ZERO, editable=False, verbose_name=_("balance"))
    balance_currency = currency_field(verbose_name=_("balance currency"))
    # The user's subject (`sub`) in the Cognito user pool whose bearer tokens the API accepts
    # (accounts/auth.py). NULL, not "", for users who never signed in through Cognito: the
    # unique constraint lets any number of NULLs through.
    cognito_sub = models.CharField(  # noqa: DJ001
        max_length=128, null=True, blank=True, editable=False, verbose_name=_("cognito sub")
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(balance__gte=0), name="user_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(balance__lte=MONEY_MAX), name="user_balance_fits_column"
            ),
            # One account per Cognito user; the unique index also serves the lookup by `sub`
            # on every request with a bearer token.
            models.UniqueConstraint(fields=["cognito_sub"], name="user_cognito_sub_unique"),
            # A user without a subject has NULL, never "": two ""s would collide.
            models.CheckConstraint(
                condition=~models.Q(cognito_sub=""), name="user_cognito_sub_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return self.email
