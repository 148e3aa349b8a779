"""Settle an ECPay refund whose outcome is unknown, as a person found it in ECPay's back office."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from core.exceptions import DomainError
from payments.models import GatewayOperation
from payments.refunds.processing import ecpay_refund_settle_checked

# Nothing settled: no such refund, one that is not an unknown ECPay refund, or --by names nobody
# allowed to refund.
REFUSED = 2


class Command(BaseCommand):
    help = (
        "Settle an ECPay refund whose outcome is unknown (its answer was lost, or its task: "
        "ECPay's DoAction takes no idempotency key, so it is never sent again) as you found it "
        "in ECPay's back office: --made counts it against the payment and emails the customer, "
        "--not-made fails it so that the refund may be asked again. Either way the payment's "
        "next refund is no longer held back; the payment's timeline keeps who checked it and "
        "--note. Exits 2 if nothing was settled."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("refund", help="the refund's id, as the API shows it: pay_...-refund-1")
        outcome = parser.add_mutually_exclusive_group(required=True)
        outcome.add_argument("--made", action="store_true", help="ECPay refunded it")
        outcome.add_argument("--not-made", action="store_true", help="ECPay did not refund it")
        parser.add_argument(
            "--by", metavar="EMAIL", required=True, help="who checked (needs refund_payment)"
        )
        parser.add_argument(
            "--note", required=True, help="what ECPay's back office showed, for the timeline"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        actor = User.objects.filter(email__iexact=options["by"], is_active=True).first()
        if actor is None or not actor.has_perm("payments.refund_payment"):
            raise CommandError(
                f"{options['by']} is not a member of staff allowed to refund", returncode=REFUSED
            )
        refund = options["refund"]
        try:
            operation = ecpay_refund_settle_checked(
                refund_key=refund, made=options["made"], actor=actor, note=options["note"]
            )
        except GatewayOperation.DoesNotExist:
            raise CommandError(f"no refund {refund}", returncode=REFUSED) from None
        except DomainError as error:
            raise CommandError(f"{refund}: {error.message}", returncode=REFUSED) from None
        self.stdout.write(f"{refund}: {operation.status}")
