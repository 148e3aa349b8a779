"""Two-factor sign-in for staff: a TOTP authenticator (django-otp) and single-use recovery codes.

Who must use it: anyone who may move money or change what the gateways do (refund, approve a
refund, export, pause a gateway, replay a callback, resend a notification, lift a lockout), and
every superuser. Anyone else who has set it up uses it too. Until such a user has proved a code
in this session, the back office (accounts/admin_site.py) and the API over a session
(accounts/auth.py) treat them as not signed in.

How one starts: an enrolment link (`manage.py two_factor_link <email>`, or `seed_demo` for the
demo staff) signed by SECRET_KEY, naming the user and a new, unconfirmed authenticator. The user
signs in with their password, follows the link, adds the secret to their authenticator app and
proves a code: the authenticator is confirmed, any older one is deleted, and ten recovery codes
are shown once. A link works once (its authenticator is then confirmed), for
TWO_FACTOR_LINK_MAX_AGE_HOURS, and only for the user it names; a newer link for the same user
voids it. Losing the phone: a recovery code signs in once; a new link sets up a new phone.

There is no bypass, in development or anywhere: the demo staff get a link like anyone else.
"""

import logging
from base64 import b32encode
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User

logger = logging.getLogger(__name__)

# The permissions that make two factors compulsory: each moves money, exposes data in bulk or
# changes what the gateways do.
TWO_FACTOR_PERMISSIONS = (
    "payments.refund_payment",
    "payments.approve_refund",
    "payments.export_payment",
    "gateways.change_gatewayswitch",
    "gateways.replay_callback",
    "notifications.resend_notification",
    "axes.delete_accessattempt",
)
RECOVERY_CODE_COUNT = 10
AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_CODES_NAME = "Recovery codes"
_LINK_SALT = "accounts.two_factor.enrolment"


class EnrolmentRefused(Exception):
    """An enrolment link that is not (or no longer) good for this user; `str()` says why."""


@dataclass(frozen=True)
class Enrolment:
    """An authenticator waiting to be confirmed, and the link that confirms it."""

    device: TOTPDevice
    token: str

    @property
    def url(self) -> str:
        path = reverse("admin:two_factor_enrol", kwargs={"token": self.token})
        return f"{settings.SITE_URL.rstrip('/')}{path}"


def two_factor_required(user: User) -> bool:
    """Whether `user` may use the back office only after proving a second factor."""
    return user.is_superuser or any(user.has_perm(name) for name in TWO_FACTOR_PERMISSIONS)


def has_authenticator(user: User) -> bool:
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def verification_needed(user: User) -> bool:
    """Whether `user` must prove a second factor this session: they must use one, or chose to.
    Kept on the user object: the admin asks several times a page (its view, its context)."""
    needed = getattr(user, "_two_factor_needed", None)
    if needed is None:
        needed = user.is_active and (two_factor_required(user) or has_authenticator(user))
        setattr(user, "_two_factor_needed", needed)  # noqa: B010 - not a field of User
    return bool(needed)


def is_verified(request: HttpRequest) -> bool:
    """Whether this session's user proved a second factor (django-otp's middleware tells)."""
    verified = getattr(request.user, "is_verified", None)
    return bool(verified and verified())


def session_is_trusted(request: HttpRequest) -> bool:
    """Whether the signed-in user of this session may act as themselves: they need no second
    factor, or proved one."""
    user = request.user
    if not isinstance(user, User):
        return False
    return is_verified(request) or not verification_needed(user)


def enrolment_start(*, user: User) -> Enrolment:
    """A new, unconfirmed authenticator for `user` and the signed token of its link. The user's
    earlier unconfirmed authenticators go, so their links stop working; a confirmed one stays
    until this one is confirmed."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    token = signing.dumps({"user": user.pk, "device": device.pk}, salt=_LINK_SALT)
    logger.info("two_factor.enrolment_started", extra={"user_id": user.pk})
    return Enrolment(device=device, token=token)


def enrolment_device(*, user: User, token: str) -> TOTPDevice:
    """The unconfirmed authenticator the link `token` was made for, if it is `user`'s and still
    good. Raises EnrolmentRefused otherwise."""
    try:
        claims = signing.loads(
            token, salt=_LINK_SALT, max_age=settings.TWO_FACTOR_LINK_MAX_AGE_HOURS * 3600
        )
    except signing.SignatureExpired:
        raise EnrolmentRefused(_("This link has expired: ask for a new one.")) from None
    except signing.BadSignature:
        raise EnrolmentRefused(_("This is not a valid enrolment link.")) from None
    if not isinstance(claims, dict) or claims.get("user") != user.pk:
        raise EnrolmentRefused(
            _("This link is for another account: sign in as the person it was made for.")
        )
    device = TOTPDevice.objects.filter(pk=claims.get("device"), user=user, confirmed=False).first()
    if device is None:
        raise EnrolmentRefused(_("This link has been used or replaced by a newer one."))
    return device


def enrolment_confirm(*, request: HttpRequest, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm `device` if `code` is its current code: it becomes the user's only authenticator,
    their recovery codes are replaced, and this session counts as verified. Returns the new
    recovery codes, to be shown once; None (and nothing changes) for a wrong code."""
    user = device.user
    with transaction.atomic():
        # Under the device's row lock: two confirmations at once make one set of recovery codes.
        device = (
            TOTPDevice.objects.select_for_update().filter(pk=device.pk, confirmed=False).first()
        )
        if device is None or not device.verify_token(normalised(code)):
            return None
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        StaticDevice.objects.filter(user=user).delete()
        recovery = StaticDevice.objects.create(user=user, name=RECOVERY_CODES_NAME)
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
        StaticToken.objects.bulk_create(StaticToken(device=recovery, token=c) for c in codes)
    otp_login(request, device)
    logger.info("two_factor.enrolled", extra={"user_id": user.pk})
    return codes


@dataclass(frozen=True)
class Verification:
    verified: bool
    # Seconds to wait before the next try, when too many wrong codes came in a row.
    wait_seconds: int = 0


def verification_attempt(*, request: HttpRequest, user: User, code: str) -> Verification:
    """Check `code` (six digits from the authenticator, or a recovery code) for `user` and mark
    the session verified if it is right. A code works once, even sent twice at once: each device
    is checked under its row lock (a TOTP code's step, a recovery code's row, are spent inside
    it). Wrong codes slow each device down (django-otp's throttling: 1, 2, 4, 8 ... seconds
    after each miss)."""
    code = normalised(code)
    model: type[Device] = TOTPDevice if code.isdigit() else StaticDevice
    wait = 0
    for device_id in model.objects.filter(user=user, confirmed=True).values_list("pk", flat=True):
        with transaction.atomic():
            device = model.objects.select_for_update().get(pk=device_id)
            allowed, details = device.verify_is_allowed()
            verified = allowed and device.verify_token(code)
        if not allowed:
            locked_until = (details or {}).get("locked_until")
            if locked_until is not None:
                wait = max(wait, int((locked_until - timezone.now()).total_seconds()) + 1)
            continue
        if verified:
            otp_login(request, device)
            kind = "recovery_code" if isinstance(device, StaticDevice) else "authenticator"
            logger.info("two_factor.verified", extra={"user_id": user.pk, "factor": kind})
            return Verification(verified=True)
    logger.warning("two_factor.refused", extra={"user_id": user.pk})
    return Verification(verified=False, wait_seconds=wait)


def authenticator_key(device: TOTPDevice) -> str:
    """The key an authenticator app takes by hand, in base32 groups of four."""
    key = b32encode(device.bin_key).decode("ascii")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def recovery_codes_left(user: User) -> int:
    return int(StaticToken.objects.filter(device__user=user, device__confirmed=True).count())


def normalised(code: str) -> str:
    """A code as typed, without the spaces and dashes people add (`123 456`, `abcd-efgh`)."""
    return code.strip().replace(" ", "").replace("-", "").lower()
