"""Password sign-in is throttled: after LOGIN_FAILURE_LIMIT wrong passwords for one account from
one address, that pair is locked out, even with the right password, on the site's page and the
admin's alike; staff see the lockout and a manager lifts it."""

import pytest
from axes.models import AccessAttempt
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.test import Client

from accounts.roles import REVIEWERS
from accounts.services import user_create
from tests.back_office import back_office_sign_in, manager, reviewer
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

EMAIL = "someone@example.com"


def sign_in(client: Client, url: str, password: str, address: str = "203.0.113.5"):
    return client.post(
        url, {"username": EMAIL, "password": password}, REMOTE_ADDR=address, follow=False
    )


def wrong_passwords(times: int, address: str = "203.0.113.5") -> None:
    for _ in range(times):
        sign_in(Client(), "/accounts/login/", "wrong password", address=address)


@pytest.fixture
def someone(settings) -> None:
    """A customer, and a limit of five wrong passwords."""
    settings.AXES_FAILURE_LIMIT = 5
    user_create(email=EMAIL, password=PASSWORD)


@pytest.mark.parametrize(("url", "staff"), [("/accounts/login/", False), ("/admin/login/", True)])
def test_the_right_password_after_too_many_wrong_ones_is_refused(settings, url, staff):
    settings.AXES_FAILURE_LIMIT = 5
    user_create(email=EMAIL, password=PASSWORD, roles=[REVIEWERS] if staff else [])
    client = Client()
    for _ in range(4):
        assert sign_in(client, url, "wrong password").status_code == 200
    # The fifth wrong one reaches the limit: its answer is already the lockout.
    assert sign_in(client, url, "wrong password").status_code == 429

    locked = sign_in(client, url, PASSWORD)

    assert locked.status_code == 429
    assert "Too many attempts to sign in" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_lockout_is_for_that_account_from_that_address_only(someone):
    wrong_passwords(5)

    elsewhere = sign_in(Client(), "/accounts/login/", PASSWORD, address="198.51.100.20")

    assert elsewhere.status_code == 302


# Behind the load balancer (TRUSTED_PROXY_COUNT=1): it appends the address it saw to whatever
# X-Forwarded-For the client sent.
BALANCER = "10.0.0.5"


@pytest.fixture
def behind_the_balancer(settings) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}


def sign_in_through_the_balancer(password: str, *, client_address: str, claimed: str = ""):
    forwarded = f"{claimed}, {client_address}" if claimed else client_address
    return Client().post(
        "/accounts/login/",
        {"username": EMAIL, "password": password},
        REMOTE_ADDR=BALANCER,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


@pytest.mark.usefixtures("someone", "behind_the_balancer")
def test_behind_the_balancer_an_address_the_client_writes_does_not_dodge_the_lockout():
    for guess in range(5):
        sign_in_through_the_balancer(
            "wrong password", client_address="198.51.100.7", claimed=f"203.0.113.{guess}"
        )

    right = sign_in_through_the_balancer(
        PASSWORD, client_address="198.51.100.7", claimed="203.0.113.99"
    )

    assert right.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7"}


@pytest.mark.usefixtures("someone", "behind_the_balancer")
def test_behind_the_balancer_nobody_locks_a_customer_out_from_elsewhere():
    for _ in range(5):
        sign_in_through_the_balancer("wrong password", client_address="198.51.100.7")

    customer = sign_in_through_the_balancer(PASSWORD, client_address="192.0.2.44")

    assert customer.status_code == 302


def test_signing_in_before_the_limit_starts_the_count_again(someone):
    wrong_passwords(4)
    assert sign_in(Client(), "/accounts/login/", PASSWORD).status_code == 302
    wrong_passwords(4)

    assert sign_in(Client(), "/accounts/login/", PASSWORD).status_code == 302


def test_staff_see_the_lockout_and_a_manager_lifts_it(someone):
    wrong_passwords(5)
    reviewers_client, managers_client = Client(), Client()
    back_office_sign_in(reviewers_client, reviewer())
    back_office_sign_in(managers_client, manager())

    listed = reviewers_client.get("/admin/axes/accessattempt/")
    assert listed.status_code == 200
    assert EMAIL in listed.content.decode()
    attempt_id = listed.context["cl"].result_list[0].pk
    assert (
        reviewers_client.post(
            f"/admin/axes/accessattempt/{attempt_id}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    lifted = managers_client.post(
        f"/admin/axes/accessattempt/{attempt_id}/delete/", {"post": "yes"}
    )

    assert lifted.status_code == 302
    assert sign_in(Client(), "/accounts/login/", PASSWORD).status_code == 302


def test_the_lockout_list_offers_only_the_actions_a_role_may_take(someone):
    wrong_passwords(5)
    reviewers_client, managers_client = Client(), Client()
    back_office_sign_in(reviewers_client, reviewer())
    back_office_sign_in(managers_client, manager())

    def actions(client: Client) -> set[str]:
        form = client.get("/admin/axes/accessattempt/").context["action_form"]
        return set() if form is None else {name for name, _ in form.fields["action"].choices}

    assert actions(reviewers_client) <= {""}  # nothing to run: reviewers only look
    assert actions(managers_client) == {"", "delete_selected"}
    # django-axes's own "Clean up expired attempts", asked for anyway, is no action here.
    attempt_id = AccessAttempt.objects.get().pk
    asked = reviewers_client.post(
        "/admin/axes/accessattempt/",
        {"action": "cleanup_expired_attempts", ACTION_CHECKBOX_NAME: [attempt_id]},
    )
    assert asked.status_code in (200, 302)
    assert AccessAttempt.objects.filter(pk=attempt_id).exists()


def test_the_command_lifts_a_lockout(someone):
    wrong_passwords(5)

    call_command("axes_reset_username", EMAIL)

    assert sign_in(Client(), "/accounts/login/", PASSWORD).status_code == 302


def test_no_password_is_kept_in_the_attempts():
    user_create(email=EMAIL, password=PASSWORD)
    sign_in(Client(), "/accounts/login/", "my-secret-guess")

    assert "my-secret-guess" not in str(list(AccessAttempt.objects.values()))
