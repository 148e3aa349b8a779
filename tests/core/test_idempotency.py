"""The Idempotency-Key header (core/idempotency.py), through POST /api/v1/payments/."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from config.celery import app as celery_app
from core.idempotency import idempotency_key_claim, idempotent
from core.models import IdempotencyKey, IdempotencyKeyState
from core.tasks import idempotency_keys_purge
from gateways.card.simulator import cards
from orders.models import Order
from payments.models import GatewayOperation, OperationKind, Payment, PaymentEvent
from tests.concurrency import run_at_once
from tests.factories import OrderFactory, UserFactory

PAYMENTS = "/api/v1/payments/"
KEY = "4f1c2a4e-8d1b-4c55-9a57-2f4d3b1f0e6a"
# The card simulator's stand-in for a dead provider: nothing listens on port 9.
UNREACHABLE_PROVIDER = "http://127.0.0.1:9/simulators/card"


def card_payment(order: Order, number: str = cards.APPROVE) -> dict:
    return {
        "kind": "order",
        "order": order.number,
        "amount": str(order.total),
        "currency": order.currency,
        "card": card_details(number),
    }


def card_details(number: str = cards.APPROVE) -> dict:
    return {
        "number": number,
        "exp_month": 12,
        "exp_year": timezone.localdate().year + 2,
        "cvc": "123",
    }


def card_deposit() -> dict:
    # No order: a deposit can be answered afresh after it is paid, where an order payment
    # would be refused as already paid.
    return {"kind": "deposit", "amount": "500", "currency": "TWD", "card": card_details()}


def post(client, body: dict, key: str | None = KEY):
    headers = {} if key is None else {"Idempotency-Key": key}
    return client.post(PAYMENTS, body, format="json", headers=headers)


def what_exists() -> tuple[int, int, int]:
    return (Payment.objects.count(), PaymentEvent.objects.count(), GatewayOperation.objects.count())


def age(record: IdempotencyKey, seconds: float) -> None:
    """Make the key's record `seconds` old."""
    IdempotencyKey.objects.filter(pk=record.pk).update(
        created_at=timezone.now() - timedelta(seconds=seconds)
    )


@pytest.fixture
def order(customer) -> Order:
    return OrderFactory.create(user=customer)


@pytest.fixture
def pay(customer, api_client_for, card_provider, django_capture_on_commit_callbacks):
    """POST a card payment as `customer`; the pipeline (the charge) runs before it returns."""

    def pay(body: dict, key: str | None = KEY, user=None):
        with django_capture_on_commit_callbacks(execute=True):
            return post(api_client_for(user or customer), body, key)

    return pay


@pytest.mark.django_db
class TestThroughTheApi:
    def test_a_retry_replays_the_first_answer_and_creates_nothing(self, pay, order):
        first = pay(card_payment(order))
        after_first = what_exists()

        again = pay(card_payment(order))

        assert first.status_code == 202, first.json()
        assert "Idempotent-Replayed" not in first.headers
        assert again.status_code == 202
        assert again.headers["Idempotent-Replayed"] == "true"
        # The first answer itself, though the payment has been charged since.
        assert again.json() == first.json()
        assert again.json()["status"] == "pending"
        assert Payment.objects.get().status == "completed"
        assert what_exists() == after_first
        assert GatewayOperation.objects.filter(kind=OperationKind.CHARGE).count() == 1

    def test_the_same_key_with_another_body_is_a_422_and_changes_nothing(self, pay, order):
        pay(card_payment(order))
        after_first = what_exists()

        # Another card for the same order: the payment's own key would take it for a retry.
        response = pay(card_payment(order, number=cards.APPROVE_MASTERCARD))

        assert response.status_code == 422
        assert response.json()["code"] == "idempotency_key_reused"
        assert response.json()["fields"] == {}
        assert what_exists() == after_first
        assert Payment.objects.get().card_brand == "visa"

    def test_two_users_may_use_the_same_key(self, pay, customer, order):
        someone_else = UserFactory.create()

        mine = pay(card_payment(order))
        theirs = pay(card_payment(OrderFactory.create(user=someone_else)), user=someone_else)

        assert (mine.status_code, theirs.status_code) == (202, 202)
        assert "Idempotent-Replayed" not in theirs.headers
        assert mine.json()["id"] != theirs.json()["id"]
        assert Payment.objects.count() == 2

    def test_without_the_header_every_request_runs(self, pay, order):
        first = pay(card_payment(order), key=None)
        second = pay(card_payment(OrderFactory.create(user=order.user)), key=None)

        assert (first.status_code, second.status_code) == (202, 202)
        assert Payment.objects.count() == 2
        assert not IdempotencyKey.objects.exists()

    @pytest.mark.parametrize(
        ("key", "problem"),
        [
            ("", "Must not be empty."),
            ("   ", "Must not be empty."),
            ("k" * 256, "At most 255 characters."),
            ("clé-1", "Only printable ASCII characters."),
            ("key\t1", "Only printable ASCII characters."),
        ],
    )
    def test_an_invalid_key_is_a_400_naming_the_header(self, pay, order, key, problem):
        response = pay(card_payment(order), key=key)

        assert response.status_code == 400
        assert response.json()["code"] == "invalid_idempotency_key"
        assert response.json()["fields"] == {"Idempotency-Key": [problem]}
        assert not Payment.objects.exists()
        assert not IdempotencyKey.objects.exists()

    def test_a_key_of_255_printable_characters_is_accepted(self, pay, order):
        key = "~ !" + "K" * 252

        response = pay(card_payment(order), key=key)

        assert response.status_code == 202, response.json()
        assert IdempotencyKey.objects.get().key == key

    def test_a_failed_request_leaves_the_key_free_for_a_retry(
        self, pay, order, settings, card_provider
    ):
        settings.CARD_PROVIDER_URL = UNREACHABLE_PROVIDER
        failed = pay(card_payment(order))
        settings.CARD_PROVIDER_URL = card_provider

        retried = pay(card_payment(order))

        assert failed.status_code == 503
        assert retried.status_code == 202, retried.json()
        assert "Idempotent-Replayed" not in retried.headers
        assert Payment.objects.count() == 1

    def test_a_refused_request_is_not_kept_and_the_corrected_one_goes_through(self, pay, order):
        refused = pay(card_payment(order, number="4242424242424241"))

        corrected = pay(card_payment(order))

        assert refused.status_code == 400
        assert corrected.status_code == 202, corrected.json()
        assert Payment.objects.count() == 1

    def test_a_key_older_than_the_ttl_counts_as_new(self, pay, settings):
        first = pay(card_deposit())
        age(IdempotencyKey.objects.get(), settings.IDEMPOTENCY_KEY_TTL_SECONDS + 1)

        again = pay(card_deposit())

        assert again.status_code == 202
        assert "Idempotent-Replayed" not in again.headers
        # Answered afresh: the payment as it is now. The payment's own key kept it one payment.
        assert again.json()["id"] == first.json()["id"]
        assert again.json()["status"] == "completed"
        assert Payment.objects.count() == 1
        record = IdempotencyKey.objects.get()
        assert timezone.now() - record.created_at < timedelta(minutes=1)

    def test_a_key_in_progress_is_a_409_until_its_request_is_given_up_for_dead(self, pay, settings):
        pay(card_deposit())
        record = IdempotencyKey.objects.get()
        # As a request that is still running, or that died before it answered, leaves it.
        IdempotencyKey.objects.filter(pk=record.pk).update(
            state=IdempotencyKeyState.IN_PROGRESS, response_status=None, completed_at=None
        )

        busy = pay(card_deposit())
        age(record, settings.IDEMPOTENCY_KEY_LOCK_SECONDS + 1)
        taken_over = pay(card_deposit())

        assert busy.status_code == 409
        assert busy.json()["code"] == "idempotency_key_in_use"
        assert taken_over.status_code == 202
        assert "Idempotent-Replayed" not in taken_over.headers
        assert IdempotencyKey.objects.get().state == IdempotencyKeyState.COMPLETED
        assert Payment.objects.count() == 1

    def test_another_request_gets_a_422_while_the_key_is_in_progress(self, pay, order):
        pay(card_payment(order))
        IdempotencyKey.objects.update(
            state=IdempotencyKeyState.IN_PROGRESS, response_status=None, completed_at=None
        )

        response = pay(card_payment(order, number=cards.APPROVE_MASTERCARD))

        assert response.status_code == 422
        assert response.json()["code"] == "idempotency_key_reused"

    def test_the_record_holds_no_card_number(self, pay, order):
        pay(card_payment(order, number=cards.APPROVE_MASTERCARD))

        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {IdempotencyKey._meta.db_table}")  # noqa: S608
            rows = cursor.fetchall()

        assert len(rows) == 1
        stored = repr(rows)
        assert "4444" in stored  # the answer's last four digits are there...
        assert cards.APPROVE_MASTERCARD not in stored  # ...never the number
        assert cards.APPROVE_MASTERCARD[:6] not in stored


class GreetingView(APIView):
    """A handler answering whatever status the test asks for, counting its runs."""

    runs = 0

    @idempotent
    def post(self, request):
        GreetingView.runs += 1
        status = int(request.data["status"])
        return Response({"hello": "world", "run": GreetingView.runs}, status=status)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "kept"),
    [(200, True), (201, True), (400, True), (404, True), (409, False), (429, False), (500, False)],
)
def test_answers_are_kept_for_replay_except_conflicts_throttling_and_server_errors(
    customer, status, kept
):
    GreetingView.runs = 0

    def call():
        request = APIRequestFactory().post(
            "/greetings/", {"status": status}, format="json", headers={"Idempotency-Key": KEY}
        )
        force_authenticate(request, user=customer)
        return GreetingView.as_view()(request)

    first, second = call(), call()

    assert first.status_code == second.status_code == status
    assert GreetingView.runs == (1 if kept else 2)
    assert (second.data == first.data) is kept
    assert (second.get("Idempotent-Replayed") == "true") is kept


@pytest.mark.django_db
def test_the_path_is_part_of_the_request(customer):
    def call(path: str):
        request = APIRequestFactory().post(
            path, {"status": 200}, format="json", headers={"Idempotency-Key": KEY}
        )
        force_authenticate(request, user=customer)
        return GreetingView.as_view()(request)

    call("/greetings/")

    assert call("/greetings/").status_code == 200
    assert call("/farewells/").status_code == 422


@pytest.mark.django_db
@pytest.mark.parametrize("other", ["ABC-1", "abc-1 "])
def test_keys_differing_in_case_or_trailing_space_are_different_keys(customer, other):
    # MariaDB's collation would take these for one key: they must be two, as on SQLite.
    first = idempotency_key_claim(user_id=customer.pk, key="abc-1", fingerprint="a" * 64)
    second = idempotency_key_claim(user_id=customer.pk, key=other, fingerprint="b" * 64)

    assert first.pk != second.pk
    assert IdempotencyKey.objects.count() == 2


@pytest.mark.django_db
def test_the_purge_deletes_only_keys_past_their_ttl(customer, settings):
    expired = idempotency_key_claim(user_id=customer.pk, key="old", fingerprint="a" * 64)
    age(expired, settings.IDEMPOTENCY_KEY_TTL_SECONDS + 1)
    nearly = idempotency_key_claim(user_id=customer.pk, key="nearly", fingerprint="a" * 64)
    age(nearly, settings.IDEMPOTENCY_KEY_TTL_SECONDS - 60)
    fresh = idempotency_key_claim(user_id=customer.pk, key="new", fingerprint="a" * 64)

    deleted = idempotency_keys_purge.delay().get()

    assert deleted == 1
    assert set(IdempotencyKey.objects.values_list("pk", flat=True)) == {nearly.pk, fresh.pk}


def test_the_purge_is_scheduled_hourly(settings):
    schedule = {
        entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }

    assert schedule[idempotency_keys_purge.name] == 3600.0
    assert idempotency_keys_purge.name in celery_app.tasks


COPIES = 8


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_concurrent_copies_of_one_request_make_one_payment_and_one_charge(
    customer, api_client_for, card_provider
):
    order = OrderFactory.create(user=customer)
    api_client_for(customer)  # its token, made once before the threads look it up

    answers = run_at_once(
        lambda: post(api_client_for(customer), card_payment(order)), threads=COPIES
    )

    statuses = [answer.status_code for answer in answers]
    assert set(statuses) <= {202, 409}, [answer.json() for answer in answers]
    handled = [answer for answer in answers if "Idempotent-Replayed" not in answer.headers]
    assert [answer.status_code for answer in handled if answer.status_code == 202] == [202]
    assert {answer.json()["id"] for answer in answers if answer.status_code == 202} == {
        Payment.objects.get().public_id
    }
    assert all(
        answer.json()["code"] == "idempotency_key_in_use"
        for answer in answers
        if answer.status_code == 409
    )
    assert GatewayOperation.objects.filter(kind=OperationKind.CHARGE).count() == 1
    assert IdempotencyKey.objects.get().state == IdempotencyKeyState.COMPLETED


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_and_different_bodies_make_one_payment(
    customer, api_client_for, card_provider
):
    order = OrderFactory.create(user=customer)
    # One order, each body with another expiry month: requests the payment's own key would take
    # for copies of one another.
    bodies = iter(
        [
            {**card_payment(order), "card": {**card_details(), "exp_month": month}}
            for month in range(1, COPIES + 1)
        ]
    )
    api_client_for(customer)

    answers = run_at_once(lambda: post(api_client_for(customer), next(bodies)), threads=COPIES)

    statuses = [answer.status_code for answer in answers]
    assert statuses.count(202) == 1, [answer.json() for answer in answers]
    assert set(statuses) <= {202, 409, 422}
    assert all(
        answer.json()["code"] in {"idempotency_key_reused", "idempotency_key_in_use"}
        for answer in answers
        if answer.status_code != 202
    )
    assert Payment.objects.count() == 1
    assert GatewayOperation.objects.filter(kind=OperationKind.CHARGE).count() == 1
