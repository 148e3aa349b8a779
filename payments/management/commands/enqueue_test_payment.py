"""Send a test payment through the real path (seed 002's test messages): a card deposit,
tokenized at the card provider and queued on the broker for the pipeline, as the API does."""

from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.models import User
from core.exceptions import DomainError
from gateways.base import CardDetails
from payments.models import PaymentKind
from payments.queue import pipeline_start
from payments.services import payment_create_with_card

# The simulator's and the usual sandboxes' approved test card; the simulator's others make a
# transient error first (4000 0000 0000 0101) or decline (README, "Test cards").
TEST_CARD = "4242424242424242"


class Command(BaseCommand):
    help = (
        "Send a test payment through the real path: a card deposit to --user's balance, the card "
        "tokenized at the card provider, the payment queued on the broker for the pipeline "
        "(validate, process, update, notify). Prints its id; follow it in the admin or at "
        "GET /api/v1/payments/{id}/. Refused where the card provider is not the simulator "
        "unless --live: there it charges a real card."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="the email of the user whose balance")
        parser.add_argument("--amount", default="100", help='a string, like "100" (default)')
        parser.add_argument("--card", default=TEST_CARD, help="the card number (a test card)")
        parser.add_argument(
            "--live",
            action="store_true",
            help="the card provider is not the simulator: charge the card anyway",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SIMULATORS_ENABLED and not options["live"]:
            raise CommandError(
                "The card provider is real here (SIMULATORS_ENABLED is off): a test payment "
                "charges the card. Pass --live to send it anyway."
            )
        user = User.objects.filter(email__iexact=options["user"]).first()
        if user is None:
            raise CommandError(f"No user {options['user']!r}.")
        try:
            amount = Decimal(options["amount"])
        except InvalidOperation:
            raise CommandError(f"--amount {options['amount']!r} is not an amount.") from None
        card = CardDetails(
            number=options["card"].replace(" ", ""),
            exp_month=12,
            exp_year=timezone.now().year + 2,
            cvc="123",
        )
        try:
            payment = payment_create_with_card(
                user=user,
                kind=PaymentKind.DEPOSIT,
                order=None,
                amount=amount,
                currency=user.balance_currency,
                card=card,
            )
        except DomainError as error:
            raise CommandError(f"{error.code}: {error.message} {error.fields or ''}") from None
        pipeline_start(payment.pk)
        self.stdout.write(
            f"queued {payment.public_id}: {payment.amount} {payment.currency} from "
            f"{payment.card_brand} ending {payment.card_last4} to {user.email}'s balance"
        )
