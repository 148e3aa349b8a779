"""The back office's lists answer only the lookups their own filters make: a lookup on a field
a page never shows (an API token's key, a card token) would tell whoever may view the list, one
guessed character at a time, the whole secret (`core.admin.ListFilterLookupsOnly`)."""

import re
from html import unescape

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from accounts.models import User
from core.admin import ListFilterLookupsOnly
from payments.models import PaymentKind
from tests.back_office import back_office_sign_in, manager, reviewer
from tests.factories import OrderFactory, PaymentFactory

pytestmark = pytest.mark.django_db

USERS = reverse("admin:accounts_user_changelist")
PAYMENTS = reverse("admin:payments_payment_changelist")


@pytest.fixture
def as_reviewer(client: Client) -> Client:
    back_office_sign_in(client, reviewer())
    return client


def test_a_reviewer_cannot_guess_an_api_token_from_the_user_list(as_reviewer: Client):
    boss = manager()
    key = Token.objects.create(user=boss).key

    for guess in (key[:1], key[:8], key):
        response = as_reviewer.get(USERS, {"auth_token__key__startswith": guess})
        assert response.status_code == 400, guess
        assert boss.email not in response.text


def test_a_reviewer_cannot_guess_a_card_token_from_the_payment_list(as_reviewer: Client):
    payment = PaymentFactory.create(card_token="tok_SECRETabc123", card_last4="4242")

    for lookup in ("card_token__startswith", "card_token", "card_token__exact", "user__password"):
        response = as_reviewer.get(PAYMENTS, {lookup: "tok_SECRETa"})
        assert response.status_code == 400, lookup
        assert payment.public_id not in response.text


def test_the_dashboard_s_links_are_still_answered(as_reviewer: Client):
    PaymentFactory.create(needs_review=True)

    for query in (
        {"needs_review__exact": "1"},
        {"status__exact": "pending", "created_at__lt": "2030-01-01T00:00:00+00:00"},
    ):
        assert as_reviewer.get(PAYMENTS, query).status_code == 200, query


def test_every_admin_on_the_site_refuses_lookups_its_filters_do_not_make():
    for model, model_admin in admin.site._registry.items():
        assert isinstance(model_admin, ListFilterLookupsOnly), model
        assert not model_admin.lookup_allowed("id__gte", "0", None), model


def filter_links(page: str) -> set[str]:
    """The query strings of a changelist's filter links ("?status__exact=completed")."""
    return {unescape(href) for href in re.findall(r'href="(\?[^"]+)"', page)}


def test_every_filter_link_of_every_list_is_answered(client: Client):
    """What each list's own filters write (choices, relations, date ranges, booleans) is
    allowed: a superuser follows every filter link of every list, and none is refused."""
    superuser = User.objects.create_superuser(email="root@example.com", password="x" * 20)
    back_office_sign_in(client, superuser)
    order = OrderFactory.create()
    PaymentFactory.create(kind=PaymentKind.ORDER, order=order, user=order.user)
    followed = 0
    for model in admin.site._registry:
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        page = client.get(changelist)
        assert page.status_code == 200, changelist
        for query in filter_links(page.text):
            assert client.get(changelist + query).status_code == 200, changelist + query
            followed += 1
    assert followed > 50  # the lists' filters were there to follow
