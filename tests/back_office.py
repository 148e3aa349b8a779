"""Members of staff in each back-office role, made the way the service makes them."""

import itertools

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from accounts.roles import MANAGERS, REVIEWERS
from accounts.services import user_create
from accounts.two_factor import AUTHENTICATOR_NAME, has_authenticator, two_factor_required
from tests.factories import PASSWORD

_numbers = itertools.count(1)


def staff_in(role: str) -> User:
    return user_create(email=f"staff{next(_numbers)}@example.com", password=PASSWORD, roles=[role])


def reviewer() -> User:
    return staff_in(REVIEWERS)


def manager() -> User:
    return staff_in(MANAGERS)


def back_office_sign_in(client: Client, user: User) -> None:
    """Sign `user` in to the back office as after both steps: the password, and a code from an
    authenticator (one is set up for them if they have none) when their role asks for one."""
    client.force_login(user)
    if not two_factor_required(user) and not has_authenticator(user):
        return
    device = authenticator(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def authenticator(user: User) -> TOTPDevice:
    """The user's confirmed authenticator, set up now if they have none (as after enrolment)."""
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, confirmed=True, defaults={"name": AUTHENTICATOR_NAME}
    )
    return device


def current_code(device: TOTPDevice) -> str:
    """The code an authenticator app would show for `device` now."""
    return f"{totp(device.bin_key, step=device.step, digits=device.digits):0{device.digits}d}"
