"""Process a stored gateway callback again: the operator's twin of the admin's "replay" action."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from gateways.models import CallbackOutcome, GatewayCallback
from payments.callbacks.replay import callback_replay

# Exit codes: replayed, but the callback is still rejected.
STILL_REJECTED = 1
# Nothing replayed: no such callback, or --by names nobody allowed to replay.
REFUSED = 2


class Command(BaseCommand):
    help = (
        "Process a stored gateway callback again, through the same code as when it arrived "
        "(signature, amount and trade number checks included). For callbacks that were "
        "rejected or never settled; an accepted one is applied already and is left alone, and a "
        "payment already moved is never moved again. The replay is recorded in the callback's "
        "admin history and the payment's timeline under the staff user given by --by. "
        "Exits 0 if the callback ends accepted or a duplicate (or was accepted already), 1 if "
        "it is still rejected, 2 if there is no such callback or --by may not replay callbacks."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "callback_id", type=int, help="the callback's id (admin: Gateway callbacks)"
        )
        parser.add_argument(
            "--by",
            metavar="EMAIL",
            help="the member of staff replaying it (needs gateways.replay_callback); "
            "required unless --dry-run",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="say what would be replayed, change nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        callback = GatewayCallback.objects.filter(pk=options["callback_id"]).first()
        if callback is None:
            raise CommandError(f"no callback {options['callback_id']}", returncode=REFUSED)
        described = _describe(callback)
        if options["dry_run"]:
            if callback.outcome == CallbackOutcome.ACCEPTED:
                self.stdout.write(f"{described}: accepted already, would not replay")
            else:
                self.stdout.write(f"would replay {described}")
            return

        result = callback_replay(callback_id=callback.pk, actor=self._actor(options["by"]))
        if not result.replayed:
            self.stdout.write(f"{described}: accepted already, not replayed")
            return
        after = result.callback
        summary = f"replayed {described}: now {after.outcome}"
        if after.outcome_reason:
            summary += f" ({after.outcome_reason})"
        if after.outcome == CallbackOutcome.REJECTED:
            raise CommandError(summary, returncode=STILL_REJECTED)
        self.stdout.write(summary)

    def _actor(self, email: str | None) -> User:
        if not email:
            raise CommandError("--by EMAIL is required to replay", returncode=REFUSED)
        actor = User.objects.filter(email__iexact=email, is_active=True).first()
        if actor is None or not actor.has_perm("gateways.replay_callback"):
            raise CommandError(
                f"{email} is not a member of staff allowed to replay callbacks",
                returncode=REFUSED,
            )
        return actor


def _describe(callback: GatewayCallback) -> str:
    reference = callback.external_reference or "no reference"
    described = f"callback {callback.pk} ({callback.gateway}, {reference}, was {callback.outcome}"
    if callback.outcome_reason:
        described += f": {callback.outcome_reason}"
    return described + ")"
