"""Demo data for a development machine: two members of staff, a customer and a few orders."""

import secrets
import shlex
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet

from accounts.models import User
from accounts.roles import MANAGERS, REVIEWERS
from accounts.services import (
    user_api_token,
    user_create,
    user_grant_permission,
    user_grant_role,
    user_set_password,
)
from accounts.two_factor import enrolment_start, has_authenticator, two_factor_required
from core.models import Currency
from orders.models import Order, OrderStatus
from orders.pricing import ItemLine
from orders.services import discount_code_create, order_create

STAFF_EMAIL = "staff@example.com"
REVIEWER_EMAIL = "reviewer@example.com"
CUSTOMER_EMAIL = "customer@example.com"

# The demo's discount code: 10% off, the one the API schema's order example uses.
DEMO_DISCOUNT_CODE = "TEA10"

DEMO_ORDERS = [
    [ItemLine(sku="TEA-001", name="Oolong tea 150 g", unit_price=Decimal("450"), quantity=2)],
    [
        ItemLine(sku="CUP-002", name="Celadon tea cup", unit_price=Decimal("320"), quantity=1),
        ItemLine(sku="TEA-003", name="Black tea 100 g", unit_price=Decimal("280"), quantity=1),
    ],
    [ItemLine(sku="POT-004", name="Yixing teapot", unit_price=Decimal("2400"), quantity=1)],
]


class Command(BaseCommand):
    help = (
        "Create demo data for development: a payment manager (staff@example.com, who may also "
        "create orders through the API), a payment reviewer and a customer, each given a fresh "
        "random password (printed), the API tokens, and orders waiting for payment (topped up to "
        "--orders on every run). Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="say what it would create, change nothing"
        )
        parser.add_argument(
            "--orders",
            type=int,
            default=len(DEMO_ORDERS),
            help=f"unpaid orders the customer is left with (default {len(DEMO_ORDERS)})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "seed_demo prints the passwords of the users it creates: "
                "development only (DJANGO_DEBUG=true)."
            )
        if options["orders"] < 0:
            raise CommandError("--orders must be 0 or more.")
        if options["dry_run"]:
            self._plan(orders=options["orders"])
            return
        staff_password = self._user_with_fresh_password(STAFF_EMAIL, "Staff", role=MANAGERS)
        # There is no catalogue: the demo's orders are created through the API by staff.
        user_grant_permission(
            user=User.objects.get(email=STAFF_EMAIL), permission="orders.add_order"
        )
        reviewer_password = self._user_with_fresh_password(
            REVIEWER_EMAIL, "Reviewer", role=REVIEWERS
        )
        customer_password = self._user_with_fresh_password(CUSTOMER_EMAIL, "Customer")

        # The API schema's order example uses it.
        discount_code_create(code=DEMO_DISCOUNT_CODE, percent_off=Decimal("10"), currency="TWD")
        customer = User.objects.get(email=CUSTOMER_EMAIL)
        # Each run tops the customer up to --orders unpaid orders: a tour that pays some leaves
        # enough for the next one.
        waiting = self._unpaid(customer).count()
        for index in range(waiting, options["orders"]):
            items = DEMO_ORDERS[index % len(DEMO_ORDERS)]
            order_create(user=customer, items=items, currency=Currency.TWD)
        orders = self._unpaid(customer).order_by("created_at")

        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"  staff:    {STAFF_EMAIL}  password: {staff_password}")
        staff = User.objects.get(email=STAFF_EMAIL)
        self.stdout.write(f"  staff's API token: {user_api_token(user=staff)}")
        self._two_factor(staff)
        self.stdout.write(f"  reviewer: {REVIEWER_EMAIL}  password: {reviewer_password}")
        self._two_factor(User.objects.get(email=REVIEWER_EMAIL))
        self.stdout.write(f"  customer: {CUSTOMER_EMAIL}  password: {customer_password}")
        self.stdout.write(f"  customer's API token: {user_api_token(user=customer)}")
        for order in orders:
            self.stdout.write(
                f"  order {order.number}: {order.total} {order.currency}, {order.status}"
            )
        # The README's tours start from these: one line to paste into the reader's shell. PORT
        # makes the commands run there (send_wallet_callback, ...) reach this run's servers.
        site = settings.SITE_URL.rstrip("/")
        self.stdout.write("  for the README's tours, paste into your shell:")
        self.stdout.write(
            f"  export PORT={settings.DEVELOPMENT_PORT} SITE_URL={shlex.quote(site)} "
            f"API={shlex.quote(site + '/api/v1')} "
            f"TOKEN={user_api_token(user=customer)} STAFF_TOKEN={user_api_token(user=staff)}"
        )

    def _two_factor(self, user: User) -> None:
        """The back office asks staff who may move money for a second factor: a link to set up
        the authenticator, until they have."""
        if has_authenticator(user):
            self.stdout.write(
                f"    two-factor sign-in is set up (to set it up again: "
                f"manage.py two_factor_link {user.email})"
            )
            return
        need = "needed" if two_factor_required(user) else "optional"
        self.stdout.write(
            f"    two-factor sign-in ({need}), set it up here: {enrolment_start(user=user).url}"
        )

    def _unpaid(self, customer: User) -> QuerySet[Order]:
        return Order.objects.filter(user=customer, status=OrderStatus.PENDING_PAYMENT)

    def _plan(self, *, orders: int) -> None:
        existing = set(
            User.objects.filter(
                email__in=[STAFF_EMAIL, REVIEWER_EMAIL, CUSTOMER_EMAIL]
            ).values_list("email", flat=True)
        )
        for email in (STAFF_EMAIL, REVIEWER_EMAIL, CUSTOMER_EMAIL):
            if email in existing:
                self.stdout.write(f"would give {email} a new password")
            else:
                self.stdout.write(f"would create {email}")
        customer = User.objects.filter(email=CUSTOMER_EMAIL).first()
        waiting = self._unpaid(customer).count() if customer else 0
        if waiting < orders:
            self.stdout.write(f"would create {orders - waiting} orders for {CUSTOMER_EMAIL}")
        self.stdout.write("dry run: nothing changed")

    def _user_with_fresh_password(
        self, email: str, first_name: str, *, role: str | None = None
    ) -> str:
        password = secrets.token_urlsafe(12)
        user = User.objects.filter(email=email).first()
        roles = [role] if role else []
        if user is None:
            user_create(email=email, password=password, first_name=first_name, roles=roles)
            return password
        user_set_password(user=user, password=password)
        # A database seeded before the roles existed gets them now.
        for role_name in roles:
            user_grant_role(user=user, role=role_name)
        return password
