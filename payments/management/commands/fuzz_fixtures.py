"""Callers to fuzz the API as (bin/fuzz-api): a customer with orders waiting for payment and a
few payments, and a payment manager who may also add orders and refund; an API token each."""

import secrets
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from accounts.roles import MANAGERS
from accounts.services import user_api_token, user_create, user_grant_permission
from core.models import Currency
from gateways.base import CardToken
from gateways.models import Gateway
from orders.models import Order
from orders.services import discount_code_create, order_create
from payments.management.commands.seed_demo import DEMO_DISCOUNT_CODE, DEMO_ORDERS
from payments.models import PaymentKind, PaymentMethod
from payments.services import payment_create, payment_start_ecpay

FUZZ_CUSTOMER_EMAIL = "fuzz-customer@example.com"
FUZZ_MANAGER_EMAIL = "fuzz-manager@example.com"


class Command(BaseCommand):
    help = (
        "Create a customer with orders waiting for payment and a few payments, and a payment "
        "manager, on a throwaway database, and print nothing but one of their API tokens (for "
        "bin/fuzz-api). Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--as",
            dest="caller",
            choices=["customer", "manager"],
            default="customer",
            help="whose token to print (both are made either way)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # The token it prints is a working credential: only where the gateway simulators are on,
        # which production never is.
        if not settings.SIMULATORS_ENABLED:
            raise CommandError(
                "fuzz_fixtures prints an API token: throwaway databases only "
                "(SIMULATORS_ENABLED=true)."
            )
        customer = User.objects.filter(email=FUZZ_CUSTOMER_EMAIL).first()
        if customer is None:
            # Nobody signs in with the password: the token is the way in.
            customer = user_create(
                email=FUZZ_CUSTOMER_EMAIL, password=secrets.token_urlsafe(16), first_name="Fuzz"
            )
        # The API schema's order example uses it.
        discount_code_create(code=DEMO_DISCOUNT_CODE, percent_off=Decimal("10"), currency="TWD")
        if not Order.objects.filter(user=customer).exists():
            orders = [
                order_create(user=customer, items=items, currency=Currency.TWD)
                for items in DEMO_ORDERS
            ]
            self._payments(customer, orders[0])
        manager = User.objects.filter(email=FUZZ_MANAGER_EMAIL).first()
        if manager is None:
            manager = user_create(
                email=FUZZ_MANAGER_EMAIL,
                password=secrets.token_urlsafe(16),
                first_name="Fuzz",
                roles=[MANAGERS],
            )
            user_grant_permission(user=manager, permission="orders.add_order")
        caller = manager if options["caller"] == "manager" else customer
        self.stdout.write(user_api_token(user=caller))

    def _payments(self, customer: User, order: Order) -> None:
        """Payments for the reads to show, each shape of one: a card deposit (no order) and an
        ECPay order payment waiting for the customer (a next_action). Made with no gateway call:
        the card token is made up, and ECPay is only called by the customer's browser."""
        payment_create(
            user=customer,
            kind=PaymentKind.DEPOSIT,
            gateway=Gateway.CARD,
            method=PaymentMethod.CARD,
            amount=Decimal("500"),
            currency=Currency.TWD,
            card=CardToken(
                token="tok_fuzz",  # noqa: S106 (made up: never sent to a provider)
                brand="visa",
                last4="4242",
                exp_month=12,
                exp_year=2030,
            ),
        )
        payment_start_ecpay(
            user=customer,
            kind=PaymentKind.ORDER,
            order=order,
            amount=order.total,
            currency=order.currency,
            method=PaymentMethod.ATM,
        )
