"""Reads of payments: who may see what lives here."""

from accounts.models import User
from payments.models import Payment


def payment_get_for_user(*, user: User, public_id: str) -> Payment:
    """The payment, if `user` may see it (its owner, or staff). Raises Payment.DoesNotExist."""
    payments = Payment.objects.select_related("order")
    if not user.is_staff:
        payments = payments.filter(user=user)
    return payments.get(public_id=public_id)
