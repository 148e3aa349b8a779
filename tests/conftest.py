import importlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from django.apps import apps
from django.core.cache import cache
from django.db import connection
from django.db.models.signals import post_migrate
from django.dispatch import receiver
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import User
from gateways.models import Gateway
from orders.models import Order, PaymentHeader
from payments.models import PaymentKind, PaymentStatus
from tests.accounts.cognito import UserPool, enable_cognito
from tests.aws import REGION, Topic, create_topic
from tests.back_office import back_office_sign_in
from tests.factories import OrderFactory, PaymentFactory, UserFactory
from tests.processes import (
    PYTHON,
    answers,
    card_simulator,
    free_port,
    project_environment,
    running,
)

# How long the simulator's "timeout" card keeps the caller waiting; tests use a shorter
# client timeout than this.
SIMULATOR_SLOW_SECONDS = "2"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The SQLite tier has no row locks worth testing and no real broker: such tests say so.
    if connection.vendor == "mysql":
        return
    skip = pytest.mark.skip(reason="needs MariaDB / MySQL (the real-stack tier runs it)")
    for item in items:
        if "mysql" in item.keywords or "integration" in item.keywords:
            item.add_marker(skip)


if os.environ.get("TESTS_DATABASE_AS_IS"):
    # tests/test_database_users.py runs tests as the services' database user, which may not
    # create a database or a table: they run in the test database an earlier session made and
    # migrated (DATABASE_URL names it), as it is.
    @pytest.fixture(scope="session")
    def django_db_setup() -> None:
        pass


@receiver(post_migrate, dispatch_uid="tests.recreate_back_office_roles")
def _recreate_back_office_roles(sender: Any, **kwargs: Any) -> None:
    # A transactional test ends with a flush, which empties every table, the back-office roles
    # (rows of a data migration) too; Django recreates content types and permissions after it,
    # through post_migrate, and so do we the roles, for the tests that come after.
    if sender.label == "accounts":
        roles = importlib.import_module("accounts.migrations.0003_back_office_roles")
        roles.create_roles(apps, None)
        lockouts = importlib.import_module("accounts.migrations.0005_sign_in_lockouts")
        lockouts.add_lockout_permissions(apps, None)


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    # API throttle counters live in the cache, keyed by user id: a test must not inherit the
    # requests of an earlier test whose user had the same id.
    yield
    cache.clear()


@pytest.fixture
def customer(db) -> User:
    return UserFactory.create()


@pytest.fixture
def paid_order(db) -> Order:
    """An order paid by a completed card payment, with its payment header."""
    order = OrderFactory.create()
    payment = PaymentFactory.create(
        user=order.user,
        kind=PaymentKind.ORDER,
        order=order,
        amount=order.total,
        status=PaymentStatus.COMPLETED,
    )
    PaymentHeader.objects.create(
        order=order,
        payment=payment,
        gateway=Gateway.CARD,
        method="card",
        gateway_payment_id="ch_header_1",
        is_paid=True,
        total_paid=order.total,
        currency=order.currency,
        paid_at=timezone.now(),
    )
    return order


@pytest.fixture
def api_client_for() -> "type[TokenClient]":
    return TokenClient


class TokenClient(APIClient):
    """An API client that authenticates as `user` with a real DRF token header."""

    def __init__(self, user: User) -> None:
        super().__init__()
        token, _ = Token.objects.get_or_create(user=user)
        self.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")


@pytest.fixture(scope="session")
def card_simulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The card provider simulator, in a process of its own with a database of its own: the
    provider is not us, and a call to it never shares our connection or our query count."""
    with card_simulator(
        tmp_path_factory.mktemp("card-simulator"), slow_seconds=SIMULATOR_SLOW_SECONDS
    ) as url:
        yield url


@pytest.fixture
def card_provider(card_simulator_url: str, settings) -> str:
    """Point the card gateway at the simulator process."""
    settings.CARD_PROVIDER_URL = card_simulator_url
    return card_simulator_url


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server (the AWS stand-in) in a process of its own, for the whole session."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(
        [PYTHON, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=project_environment(),
        log=tmp_path_factory.mktemp("moto") / "moto.log",
        ready=lambda: answers(url),
    ):
        yield url


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Any]:
    """boto3 clients of the moto server, by service name: every AWS call of the test (and of the
    code it runs) goes there, with credentials that can reach nothing else."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return lambda service: boto3.client(service, region_name=REGION)


@pytest.fixture
def make_topic(moto_url: str) -> Callable[[str], Topic]:
    """Create an SNS topic on moto, with an SQS queue subscribed to read it back."""
    return lambda name: create_topic(moto_url=moto_url, name=name)


@pytest.fixture
def no_pipeline(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Keep the API from starting the pipeline; returns the ids it would have started."""
    started: list[int] = []
    monkeypatch.setattr("payments.api.payments.pipeline_start", started.append)
    return started


@pytest.fixture
def cognito_pool(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[UserPool]:
    """A stand-in Cognito user pool over real HTTP, the one the API checks bearer tokens with."""
    with UserPool().running() as pool:
        enable_cognito(settings, monkeypatch, jwks_url=pool.jwks_url)
        yield pool


@pytest.fixture
def admin_client(client: Client, admin_user: User) -> Client:
    """pytest-django's superuser client, signed in with both factors as the back office asks."""
    back_office_sign_in(client, admin_user)
    return client
