from decimal import Decimal

import pytest

from core.idempotency import IdempotencyKeyReused
from core.models import Currency
from gateways.models import Gateway
from payments.exceptions import AmountOutOfRange, InvalidPayment
from payments.models import Payment, PaymentEvent, PaymentKind, PaymentMethod, PaymentStatus
from payments.services import payment_create
from tests.factories import OrderFactory, UserFactory


def create_deposit(user, amount="500", key=None):
    return payment_create(
        user=user,
        kind=PaymentKind.DEPOSIT,
        gateway=Gateway.CARD,
        method=PaymentMethod.CARD,
        amount=Decimal(amount),
        currency=Currency.TWD,
        idempotency_key=key,
    )


@pytest.mark.django_db
def test_a_new_payment_is_pending_with_a_public_id_and_a_created_event(customer):
    payment = create_deposit(customer)

    assert payment.status == PaymentStatus.PENDING
    assert payment.public_id.startswith("pay_")
    assert len(payment.public_id) == 28
    assert PaymentEvent.objects.filter(payment=payment, type="created").count() == 1


@pytest.mark.django_db
def test_the_same_idempotency_key_returns_the_first_payment(customer):
    first = create_deposit(customer, key="key-1")
    again = create_deposit(customer, key="key-1")

    assert again.pk == first.pk
    assert Payment.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_amount_is_refused(customer):
    create_deposit(customer, key="key-1")

    with pytest.raises(IdempotencyKeyReused):
        create_deposit(customer, amount="501", key="key-1")
    assert Payment.objects.count() == 1


@pytest.mark.django_db
def test_idempotency_keys_belong_to_one_user(customer):
    other = UserFactory.create()

    mine = create_deposit(customer, key="shared")
    theirs = create_deposit(other, key="shared")

    assert mine.pk != theirs.pk


@pytest.mark.django_db
@pytest.mark.parametrize("amount", ["0", "-1"])
def test_a_payment_of_nothing_is_refused(customer, amount):
    with pytest.raises(AmountOutOfRange) as refused:
        create_deposit(customer, amount=amount)
    assert "amount" in refused.value.fields
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_an_order_payment_needs_the_callers_own_order(customer):
    someone_elses = OrderFactory.create()

    with pytest.raises(InvalidPayment):
        payment_create(
            user=customer,
            kind=PaymentKind.ORDER,
            order=someone_elses,
            gateway=Gateway.ECPAY,
            method=PaymentMethod.CARD,
            amount=someone_elses.total,
            currency=Currency.TWD,
        )
    assert not Payment.objects.exists()
