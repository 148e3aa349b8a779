"""Development only: play the wallet or the bank app and send a signed callback to this service."""

import secrets
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from gateways.models import Gateway
from gateways.wallet.simulator import callback_send

# --gateway value → (our gateway, the callback's URL name).
_GATEWAYS = {
    "wallet": (Gateway.WALLET, "wallet-callback"),
    "bank-app": (Gateway.BANK_APP, "bank-app-callback"),
}


class Command(BaseCommand):
    help = "Sign and POST a wallet or bank-app callback, then print the answer (simulators only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--gateway", choices=sorted(_GATEWAYS), default="wallet")
        parser.add_argument("--order", required=True, help="the order number")
        parser.add_argument("--amount", required=True, help="the amount paid, e.g. 960.00")
        parser.add_argument("--payment-id", help="the provider's payment id (default: random)")
        parser.add_argument("--failure", action="store_true", help="report a failed payment")
        parser.add_argument(
            "--url",
            help="where to post (default: SITE_URL, or http://127.0.0.1:$PORT in development, "
            "and the callback path)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SIMULATORS_ENABLED:
            raise CommandError("Simulators are disabled (SIMULATORS_ENABLED): development only.")
        gateway, url_name = _GATEWAYS[options["gateway"]]
        try:
            amount = Decimal(options["amount"])
        except InvalidOperation:
            raise CommandError("--amount must be a number.") from None
        url = options["url"] or settings.SITE_URL.rstrip("/") + reverse(url_name)
        payment_id = options["payment_id"] or f"sim_{secrets.token_hex(8)}"
        result = "failed" if options["failure"] else "paid"
        # What was sent first: the payment id above all, to send the same callback again.
        self.stdout.write(
            f"POST {url}: {options['gateway']} says order {options['order']} {result} "
            f"{amount}, payment id {payment_id}"
        )
        try:
            response = callback_send(
                url=url,
                gateway=gateway,
                order_number=options["order"],
                success=not options["failure"],
                payment_id=payment_id,
                amount=amount,
            )
        except requests.ConnectionError:
            raise CommandError(
                f"Nothing answers at {url}: start the service (bin/run), or point --url or "
                "SITE_URL (or PORT) at where it runs."
            ) from None
        self.stdout.write(f"{response.status_code} {response.text}")
