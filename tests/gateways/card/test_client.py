"""The card client against the simulator, over real HTTP: every test card's outcome."""

import contextlib
import os
import re
import subprocess
import sys
import uuid
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps
from django.utils import timezone

from gateways.base import (
    CardDetails,
    ChargeRequest,
    GatewayError,
    OutcomeUnknownError,
    PaymentDeclinedError,
    PermanentGatewayError,
    RefundRequest,
    TransientGatewayError,
)
from gateways.card import get_card_gateway
from gateways.card.client import CardProviderClient
from gateways.card.simulator import cards
from gateways.card.simulator.models import SimulatedCharge, SimulatedRefund

ROOT = Path(__file__).resolve().parents[3]
CVC = "737"


def card(number: str = cards.APPROVE, **changes) -> CardDetails:
    year = timezone.localdate().year + 1
    return replace(CardDetails(number=number, exp_month=12, exp_year=year, cvc=CVC), **changes)


def client(base_url: str, api_key: str) -> CardProviderClient:
    return CardProviderClient(base_url=base_url, api_key=api_key, connect_timeout=1, read_timeout=5)


def new_key() -> str:
    return uuid.uuid4().hex


def charge_request(token: str, amount: str = "250.00") -> ChargeRequest:
    return ChargeRequest(
        token=token, amount=Decimal(amount), currency="TWD", idempotency_key=new_key()
    )


def refund_request(charge_id: str, amount: str) -> RefundRequest:
    return RefundRequest(
        charge_id=charge_id, amount=Decimal(amount), currency="TWD", idempotency_key=new_key()
    )


def charge_card(gateway, number: str, amount: str = "250.00"):
    return gateway.charge(charge_request(gateway.tokenize(card(number)).token, amount))


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        (cards.APPROVE, "visa"),
        (cards.APPROVE_MASTERCARD, "mastercard"),
        ("2223003122003222", "mastercard"),
        ("378282246310005", "amex"),
        ("3566002020360505", "jcb"),
    ],
)
def test_a_card_is_tokenized_into_its_brand_last_four_digits_and_expiry(
    card_gateway, number, brand
):
    token = card_gateway.tokenize(card(number))

    assert token.token.startswith("tok_")
    assert (token.brand, token.last4) == (brand, number[-4:])
    assert (token.exp_month, token.exp_year) == (12, timezone.localdate().year + 1)


@pytest.mark.parametrize(
    "refused",
    [
        pytest.param(card("4242424242424241"), id="fails-luhn"),
        pytest.param(card("6011111111111117"), id="network-not-taken"),
        pytest.param(card(exp_year=timezone.localdate().year - 1), id="expired"),
        pytest.param(card(exp_month=13), id="no-such-month"),
        pytest.param(card(cvc="12"), id="cvc-too-short"),
    ],
)
def test_a_card_the_provider_refuses_is_declined_with_the_providers_code(card_gateway, refused):
    with pytest.raises(PaymentDeclinedError) as declined:
        card_gateway.tokenize(refused)
    assert declined.value.code not in ("", "declined")


def test_an_approved_charge_returns_its_id_amount_and_currency(card_gateway):
    result = charge_card(card_gateway, cards.APPROVE, amount="1234.50")

    assert result.charge_id.startswith("ch_")
    assert result.amount == Decimal("1234.50")
    assert result.currency == "TWD"


@pytest.mark.parametrize(
    ("number", "code"),
    [(cards.DECLINE, "card_declined"), (cards.INSUFFICIENT_FUNDS, "insufficient_funds")],
)
def test_declined_card_raises_payment_declined_with_its_code(card_gateway, number, code):
    with pytest.raises(PaymentDeclinedError) as declined:
        charge_card(card_gateway, number)

    assert declined.value.code == code


def test_charging_twice_with_one_key_makes_one_charge(card_gateway):
    request = charge_request(card_gateway.tokenize(card()).token)

    first = card_gateway.charge(request)
    second = card_gateway.charge(request)

    assert second == first
    assert SimulatedCharge.objects.count() == 1


def test_a_repeated_declined_charge_is_declined_again_and_recorded_once(card_gateway):
    request = charge_request(card_gateway.tokenize(card(cards.DECLINE)).token)

    for _ in range(2):
        with pytest.raises(PaymentDeclinedError, match="card_declined"):
            card_gateway.charge(request)

    assert SimulatedCharge.objects.count() == 1


@pytest.mark.parametrize(
    ("number", "failures"),
    [(cards.TRANSIENT_ONCE, 1), (cards.TRANSIENT_TWICE, 2), (cards.TRANSIENT_THRICE, 3)],
)
def test_a_transient_card_fails_its_first_attempts_then_approves(card_gateway, number, failures):
    token = card_gateway.tokenize(card(number)).token

    # Each attempt has its own key: the count is the token's, not the key's.
    for _ in range(failures):
        with pytest.raises(TransientGatewayError, match="HTTP 503"):
            card_gateway.charge(charge_request(token))
    assert not SimulatedCharge.objects.exists()

    result = card_gateway.charge(charge_request(token))
    assert SimulatedCharge.objects.get().charge_id == result.charge_id


def test_a_charge_whose_answer_is_lost_is_found_by_its_key(card_gateway, settings):
    settings.CARD_SIMULATOR_SLOW_SECONDS = 2
    settings.CARD_PROVIDER_TIMEOUT_SECONDS = 0.5
    impatient_gateway = get_card_gateway()
    request = charge_request(impatient_gateway.tokenize(card(cards.TIMEOUT_AFTER_CHARGE)).token)

    with pytest.raises(OutcomeUnknownError):
        impatient_gateway.charge(request)
    found = impatient_gateway.find_charge(request.idempotency_key)

    assert found is not None
    assert found.charge_id == SimulatedCharge.objects.get().charge_id
    assert found.amount == request.amount


def test_find_charge_returns_none_for_a_key_never_charged(card_gateway):
    assert card_gateway.find_charge(new_key()) is None


def test_find_charge_of_a_declined_charge_raises_payment_declined(card_gateway):
    request = charge_request(card_gateway.tokenize(card(cards.INSUFFICIENT_FUNDS)).token)
    with pytest.raises(PaymentDeclinedError):
        card_gateway.charge(request)

    with pytest.raises(PaymentDeclinedError) as declined:
        card_gateway.find_charge(request.idempotency_key)

    assert declined.value.code == "insufficient_funds"


def test_a_wrong_api_key_raises_permanent_error(settings, card_gateway):
    with pytest.raises(PermanentGatewayError, match="HTTP 401"):
        client(settings.CARD_PROVIDER_URL, api_key="not-the-key").tokenize(card())


def test_a_charge_is_refunded_in_parts_until_nothing_is_left(card_gateway):
    charge = charge_card(card_gateway, cards.APPROVE, amount="100.00")

    first = card_gateway.refund(refund_request(charge.charge_id, "30.00"))
    rest = card_gateway.refund(refund_request(charge.charge_id, "70.00"))

    assert (first.amount, rest.amount) == (Decimal("30.00"), Decimal("70.00"))
    assert first.refund_id != rest.refund_id
    with pytest.raises(PermanentGatewayError, match="amount_too_large"):
        card_gateway.refund(refund_request(charge.charge_id, "0.01"))


def test_a_charge_is_refunded_in_full_at_once(card_gateway):
    charge = charge_card(card_gateway, cards.APPROVE_MASTERCARD, amount="100.00")

    refund = card_gateway.refund(refund_request(charge.charge_id, "100.00"))

    assert refund.amount == Decimal("100.00")
    assert SimulatedCharge.objects.get().refunded_amount == Decimal("100.00")


def test_refunding_more_than_the_charge_raises_permanent_error_and_refunds_nothing(card_gateway):
    charge = charge_card(card_gateway, cards.APPROVE, amount="100.00")

    with pytest.raises(PermanentGatewayError, match="amount_too_large"):
        card_gateway.refund(refund_request(charge.charge_id, "100.01"))

    assert not SimulatedRefund.objects.exists()


def test_a_repeated_refund_key_refunds_once(card_gateway):
    charge = charge_card(card_gateway, cards.APPROVE, amount="100.00")
    request = refund_request(charge.charge_id, "100.00")

    first = card_gateway.refund(request)
    second = card_gateway.refund(request)

    assert second == first
    assert SimulatedRefund.objects.count() == 1


def test_with_a_failure_rate_of_one_every_charge_is_transient_and_none_is_recorded(
    card_gateway, settings
):
    token = card_gateway.tokenize(card()).token
    settings.CARD_SIMULATOR_TRANSIENT_FAILURE_RATE = 1.0

    for _ in range(5):
        with pytest.raises(TransientGatewayError):
            card_gateway.charge(charge_request(token))

    assert not SimulatedCharge.objects.exists()


def test_the_card_number_is_in_no_row_of_any_simulator_table(card_gateway):
    numbers = [cards.APPROVE, cards.APPROVE_MASTERCARD, cards.DECLINE, cards.TRANSIENT_ONCE]
    charges = []
    for number in numbers:
        with contextlib.suppress(PaymentDeclinedError, TransientGatewayError):
            charges.append(charge_card(card_gateway, number))
    card_gateway.refund(refund_request(charges[0].charge_id, "1.00"))

    simulator_models = [
        model
        for model in apps.get_app_config("gateways").get_models()
        if model.__module__ == "gateways.card.simulator.models"
    ]
    assert len(simulator_models) == 3
    for model in simulator_models:
        rows = list(model._default_manager.values())
        assert rows, f"{model.__name__} has no rows to search"
        stored = repr(rows)
        assert not [number for number in numbers if number in stored]
        assert f"'{CVC}'" not in stored


def test_no_error_message_carries_the_card_number_or_cvc(settings, card_gateway, unreachable_url):
    expired_card = card(cards.APPROVE, exp_year=timezone.localdate().year - 1)
    errors = []
    for gateway in [
        card_gateway,  # refused: the card has expired
        client(settings.CARD_PROVIDER_URL, api_key="not-the-key"),  # refused: wrong key
        client(unreachable_url, api_key=settings.CARD_PROVIDER_API_KEY),  # nobody answers
    ]:
        with pytest.raises(GatewayError) as raised:
            gateway.tokenize(expired_card)
        errors.append(raised.value)

    for error in errors:
        messages = f"{error} {error.__cause__ or ''}"
        assert cards.APPROVE not in messages
        assert not re.search(rf"(?<![0-9]){CVC}(?![0-9])", messages)


def test_the_simulator_refuses_every_caller_when_no_api_key_is_set(client, settings):
    settings.CARD_PROVIDER_API_KEY = ""

    response = client.post(
        "/simulators/card/v1/tokens",
        {"number": cards.APPROVE, "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        content_type="application/json",
        headers={"Authorization": "Bearer "},
    )

    assert response.status_code == 401


def test_the_simulator_is_not_routed_when_simulators_are_disabled():
    assert simulator_routed() is False  # production: DEBUG and SIMULATORS_ENABLED unset
    assert simulator_routed(SIMULATORS_ENABLED="false", DJANGO_DEBUG="true") is False
    assert simulator_routed(SIMULATORS_ENABLED="true") is True


def simulator_routed(**variables: str) -> bool:
    """Whether Django started with the real settings and `variables` routes the simulator."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SIMULATORS_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_ENV_FILE="",
        DJANGO_SECRET_KEY="tests-only-secret-key",
        **variables,
    )
    script = (
        "import django; django.setup()\n"
        "from django.urls import Resolver404, resolve\n"
        "try:\n"
        "    resolve('/simulators/card/v1/charges')\n"
        "except Resolver404:\n"
        "    print('not routed')\n"
        "else:\n"
        "    print('routed')\n"
    )
    started = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return started.stdout.strip() == "routed"
