"""Two-factor sign-in to the back office: staff who may move money need a code from an
authenticator app after their password, set up from an enrolment link; recovery codes work once;
a password alone opens neither the admin nor the API."""

import base64
import importlib
import re
from dataclasses import dataclass
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from tests.back_office import back_office_sign_in, manager, reviewer
from tests.concurrency import run_at_once
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

SECRET = re.compile(r'id="totp-secret">([A-Z2-7 ]+)</code>')


def password_sign_in(client: Client, user: User, next_url: str = "/admin/"):
    return client.post(
        "/admin/login/",
        {"username": user.email, "password": PASSWORD, "next": next_url},
        REMOTE_ADDR="203.0.113.5",
    )


def enrolment_link(user: User) -> str:
    out = StringIO()
    call_command("two_factor_link", user.email, stdout=out)
    url = out.getvalue().strip().splitlines()[-1]
    assert url.startswith(settings.SITE_URL)
    return urlsplit(url).path


def code_for(secret: str, steps_ahead: int = 0) -> str:
    key = base64.b32decode(secret.replace(" ", ""))
    return f"{totp(key, t0=-30 * steps_ahead):06d}"


def enrol(client: Client, user: User) -> tuple[str, list[str]]:
    """Follow a fresh enrolment link as `user` (signed in with the password): the key the page
    shows, and the recovery codes it shows after a good code."""
    link = enrolment_link(user)
    page = client.get(link)
    assert page.status_code == 200
    secret = SECRET.search(page.content.decode()).group(1)
    done = client.post(link, {"code": code_for(secret)})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]+)</code></li>", done.content.decode())
    return secret, codes


@dataclass(frozen=True)
class Enrolled:
    user: User
    secret: str
    recovery_codes: list[str]


@pytest.fixture
def enrolled() -> Enrolled:
    """A manager who set up their authenticator (in a session of its own) from a link."""
    user = manager()
    client = Client()
    password_sign_in(client, user)
    secret, codes = enrol(client, user)
    return Enrolled(user=user, secret=secret, recovery_codes=codes)


def test_a_manager_with_only_a_password_is_sent_to_the_code_page_everywhere():
    client = Client()
    user = manager()

    signed_in = password_sign_in(client, user, next_url="/admin/payments/payment/")

    assert signed_in.status_code == 302
    assert signed_in["Location"] == "/admin/two-factor/?next=/admin/payments/payment/"
    for page in ("/admin/", "/admin/payments/payment/", "/admin/dashboard/"):
        refused = client.get(page)
        assert refused.status_code == 302, page
        # The admin sends them to sign in, which sends a signed-in user on to the code page.
        assert client.get(refused["Location"])["Location"].startswith("/admin/two-factor/")
    told = client.get("/admin/two-factor/")
    assert "two_factor_link" in told.content.decode()
    api = client.get("/api/v1/payments/")
    assert api.status_code == 401
    assert api.json()["code"] == "two_factor_required"


def test_the_code_page_s_sign_out_signs_out(enrolled):
    client = Client()
    password_sign_in(client, enrolled.user)
    page = client.get("/admin/two-factor/").content.decode()
    assert 'action="/admin/logout/"' in page

    signed_out = client.post("/admin/logout/")

    assert signed_out.status_code == 200  # Django's "Logged out" page
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/")["Location"].startswith("/admin/login/")


def test_signing_out_still_needs_the_page_s_csrf_token(enrolled):
    client = Client(enforce_csrf_checks=True)
    client.force_login(enrolled.user)  # the password, no code yet

    assert client.post("/admin/logout/").status_code == 403
    assert "_auth_user_id" in client.session


def test_a_manager_enrols_from_the_link_and_gets_in_with_ten_recovery_codes():
    client = Client()
    user = manager()
    password_sign_in(client, user)

    _, codes = enrol(client, user)

    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert client.get("/admin/").status_code == 200
    assert client.get("/api/v1/payments/").status_code == 200
    assert TOTPDevice.objects.filter(user=user, confirmed=True).count() == 1


def test_a_wrong_code_at_enrolment_confirms_nothing():
    client = Client()
    user = manager()
    password_sign_in(client, user)
    link = enrolment_link(user)
    secret = SECRET.search(client.get(link).content.decode()).group(1)
    wrong = f"{(int(code_for(secret)) + 1) % 1_000_000:06d}"

    refused = client.post(link, {"code": wrong})

    assert refused.status_code == 200
    assert "That code is not right" in refused.content.decode()
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    assert client.get("/admin/").status_code == 302


def test_next_time_the_password_and_a_code_sign_in_and_go_where_they_were_going(enrolled):
    user, secret = enrolled.user, enrolled.secret

    client = Client()
    to_code = password_sign_in(client, user, next_url="/admin/payments/payment/")
    # The code enrolment used is spent: the authenticator's next one signs in.
    signed_in = client.post(to_code["Location"], {"code": code_for(secret, steps_ahead=1)})

    assert signed_in.status_code == 302
    assert signed_in["Location"] == "/admin/payments/payment/"
    assert client.get("/admin/payments/payment/").status_code == 200


def test_a_code_is_good_once(enrolled):
    user, secret = enrolled.user, enrolled.secret

    client = Client()
    to_code = password_sign_in(client, user)
    replayed = client.post(to_code["Location"], {"code": code_for(secret)})

    assert replayed.status_code == 200
    assert "That code is not right" in replayed.content.decode()
    assert client.get("/admin/").status_code == 302


def test_wrong_codes_make_the_next_try_wait(settings, enrolled):
    settings.OTP_TOTP_THROTTLE_FACTOR = 60
    user, secret = enrolled.user, enrolled.secret
    client = Client()
    to_code = password_sign_in(client, user)
    right = code_for(secret, steps_ahead=1)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    client.post(to_code["Location"], {"code": wrong})
    too_soon = client.post(to_code["Location"], {"code": right})

    assert "Too many wrong codes: wait" in too_soon.content.decode()
    assert client.get("/admin/").status_code == 302


def test_a_recovery_code_signs_in_once(enrolled):
    user, codes = enrolled.user, enrolled.recovery_codes

    client = Client()
    signed_in = client.post(password_sign_in(client, user)["Location"], {"code": codes[0].upper()})
    assert signed_in.status_code == 302
    assert client.get("/admin/").status_code == 200

    again = Client()
    refused = again.post(password_sign_in(again, user)["Location"], {"code": codes[0]})
    assert "That code is not right" in refused.content.decode()
    assert StaticToken.objects.filter(device__user=user).count() == 9


def test_a_link_works_only_for_its_user_once_and_until_a_newer_one():
    user, someone_else = manager(), manager()
    link = enrolment_link(user)
    other = Client()
    password_sign_in(other, someone_else)

    refused = other.get(link)
    assert refused.status_code == 403
    assert "This link is for another account" in refused.content.decode()

    client = Client()
    password_sign_in(client, user)
    newer = enrolment_link(user)
    replaced = client.get(link)
    assert replaced.status_code == 403
    assert "replaced by a newer one" in replaced.content.decode()

    secret = SECRET.search(client.get(newer).content.decode()).group(1)
    client.post(newer, {"code": code_for(secret)})
    used = client.get(newer)
    assert used.status_code == 403
    assert "This link has been used" in used.content.decode()


def test_an_expired_or_forged_link_is_refused(settings):
    user = manager()
    client = Client()
    password_sign_in(client, user)
    link = enrolment_link(user)

    assert client.get(link[:-3] + "abc/").status_code == 403
    settings.TWO_FACTOR_LINK_MAX_AGE_HOURS = -1
    expired = client.get(link)
    assert expired.status_code == 403
    assert "This link has expired" in expired.content.decode()


def test_a_link_opened_before_signing_in_asks_for_the_password_then_opens():
    user = manager()
    link = enrolment_link(user)
    client = Client()

    to_sign_in = client.get(link)
    assert to_sign_in.status_code == 302
    assert to_sign_in["Location"].startswith("/admin/login/")
    back = password_sign_in(client, user, next_url=link)

    assert back["Location"] == link
    assert SECRET.search(client.get(link).content.decode())


def test_a_new_authenticator_replaces_the_old_one_and_its_recovery_codes():
    user = manager()
    client = Client()
    password_sign_in(client, user)
    _, old_codes = enrol(client, user)

    _, new_codes = enrol(client, user)

    assert TOTPDevice.objects.filter(user=user).count() == 1
    assert set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True)) == (
        set(new_codes)
    )
    assert not set(old_codes) & set(new_codes)


def test_a_reviewer_signs_in_with_a_password_until_they_set_up_a_second_factor():
    user = reviewer()
    client = Client()
    password_sign_in(client, user)
    assert client.get("/admin/").status_code == 200

    enrol(client, user)
    later = Client()
    password_sign_in(later, user)

    assert later.get("/admin/").status_code == 302


def test_a_code_page_never_sends_anyone_to_another_site():
    user = manager()
    back_office_sign_in(Client(), user)  # gives them an authenticator
    device = TOTPDevice.objects.get(user=user)
    client = Client()
    password_sign_in(client, user)

    signed_in = client.post(
        "/admin/two-factor/?next=https://evil.example/",
        {"code": f"{totp(device.bin_key):06d}"},
    )

    assert signed_in["Location"] == "/admin/"


def test_a_customer_is_not_asked_for_a_second_factor_anywhere():
    client = Client()
    customer = User.objects.create_user(email="customer@example.com", password=PASSWORD)
    client.force_login(customer)

    assert client.get("/api/v1/payments/").status_code == 200
    assert client.get("/admin/two-factor/").status_code == 302


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("factor", ["authenticator", "recovery_code"])
def test_one_code_sent_twice_at_once_signs_in_once(factor):
    """Each device is checked under its row lock: the second request waits, then finds the
    code spent."""
    roles = importlib.import_module("accounts.migrations.0003_back_office_roles")
    roles.create_roles(django_apps, None)
    user = manager()
    first = Client()
    password_sign_in(first, user)
    secret, codes = enrol(first, user)
    code = code_for(secret, steps_ahead=1) if factor == "authenticator" else codes[0]
    clients = [Client(), Client()]
    pages = [password_sign_in(client, user)["Location"] for client in clients]
    turns = iter(range(2))

    def send_code() -> bool:
        turn = next(turns)
        answer = clients[turn].post(pages[turn], {"code": code})
        return answer.status_code == 302

    signed_in = run_at_once(send_code, threads=2)

    assert sorted(signed_in) == [False, True]
