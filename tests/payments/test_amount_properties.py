"""Property: any amount the API accepts fits every column it reaches, however it is written.

The limits are set as high as the service allows (payments.checks.LIMIT_CEILING), so what is
tested is the columns' edge, not the default limits far below it.
"""

from decimal import Decimal
from itertools import count

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import User
from core.models import CENT, MONEY_MAX, ZERO
from gateways.card.simulator import cards
from orders.models import Order
from payments.checks import LIMIT_CEILING
from payments.models import LedgerEntryType, Payment, PaymentStatus
from payments.services import balance_credit, payment_complete, payment_transition
from tests.conftest import TokenClient
from tests.factories import StaffFactory, UserFactory
from tests.orders.test_api import may_add_orders

pytestmark = pytest.mark.django_db

_decimals = st.decimals(
    min_value=Decimal("-1e16"), max_value=Decimal("1e16"), allow_nan=False, allow_infinity=False
)
# Amounts as clients write them, and as attackers do: plain, exponent, padded, many places,
# JSON numbers, and any text at all.
AMOUNTS = st.one_of(
    _decimals.map(str),
    _decimals.map(lambda amount: f"{amount:e}"),
    _decimals.map(lambda amount: f" {amount} "),
    st.from_regex(r"-?[0-9]{0,16}(\.[0-9]{0,5})?", fullmatch=True),
    st.integers(min_value=-(10**16), max_value=10**16),
    st.text(max_size=24),
)
EXAMPLES = hypothesis_settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_emails = count()


@pytest.fixture
def highest_limits(settings) -> None:
    settings.PAYMENT_MAX_AMOUNT = LIMIT_CEILING
    settings.DEPOSIT_MAX_AMOUNT = LIMIT_CEILING
    settings.BALANCE_MAX_AMOUNT = LIMIT_CEILING


def fits(amount: Decimal) -> bool:
    return ZERO <= amount <= MONEY_MAX and amount == amount.quantize(CENT)


def a_customer() -> User:
    return UserFactory.create(email=f"property-{next(_emails)}@example.com")


@EXAMPLES
@given(amount=AMOUNTS)
def test_a_deposit_the_api_accepts_fits_the_payment_and_the_balance_it_credits(
    highest_limits, card_provider, no_pipeline, amount
):
    customer = a_customer()
    body = {
        "kind": "deposit",
        "amount": amount,
        "currency": "TWD",
        "card": {"number": cards.APPROVE, "exp_month": 12, "exp_year": 2099, "cvc": "123"},
    }

    response = TokenClient(customer).post("/api/v1/payments/", body, format="json")

    assert response.status_code in (202, 400), response.content
    if response.status_code != 202:
        return
    payment = Payment.objects.get(public_id=response.json()["id"])
    assert fits(payment.amount)
    assert payment.amount > ZERO
    payment_transition(payment_id=payment.pk, to=PaymentStatus.PROCESSING, event="validated")
    payment_complete(payment_id=payment.pk, gateway_reference="ch_property")
    customer.refresh_from_db()  # the row stays readable
    assert fits(customer.balance)


@EXAMPLES
@given(amount=AMOUNTS)
def test_a_withdrawal_the_api_accepts_fits_the_ledger(amount):
    customer = a_customer()
    balance_credit(
        user_id=customer.pk,
        amount=Decimal("1000"),
        currency="TWD",
        entry_type=LedgerEntryType.DEPOSIT,
    )

    response = TokenClient(customer).post(
        "/api/v1/wallet/withdrawals/", {"amount": amount, "currency": "TWD"}, format="json"
    )

    assert response.status_code in (201, 400, 409), response.content
    customer.refresh_from_db()
    assert fits(customer.balance)
    assert customer.ledger_entries.filter(balance_after__lt=0).count() == 0


@EXAMPLES
@given(unit_price=AMOUNTS, quantity=st.integers(min_value=1, max_value=10_000))
def test_an_order_the_api_accepts_fits_its_columns(highest_limits, unit_price, quantity):
    merchant = may_add_orders(StaffFactory.create(email=f"merchant-{next(_emails)}@example.com"))
    item = {"sku": "X", "name": "X", "unit_price": unit_price, "quantity": quantity}

    response = TokenClient(merchant).post(
        "/api/v1/orders/", {"currency": "TWD", "items": [item]}, format="json"
    )

    assert response.status_code in (201, 400), response.content
    if response.status_code == 201:
        order = Order.objects.get(number=response.json()["number"])
        assert fits(order.subtotal)
        assert fits(order.total)
