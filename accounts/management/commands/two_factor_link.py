"""An enrolment link for a member of staff's two-factor sign-in (accounts/two_factor.py)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from accounts.two_factor import enrolment_start, has_authenticator, two_factor_required


class Command(BaseCommand):
    help = (
        "Print a link that sets up two-factor sign-in for the user with this email: they sign "
        "in with their password, open it and scan the code. It works once, for "
        "TWO_FACTOR_LINK_MAX_AGE_HOURS, and voids the user's earlier links; their current "
        "authenticator keeps working until the new one is confirmed. Give it to them yourself "
        "(it lets whoever knows their password set up a second factor)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["email"]).first()
        if user is None:
            raise CommandError(f"No user with the email {options['email']}.")
        if not user.is_active:
            raise CommandError(f"{user.email} is inactive: activate them first.")
        enrolment = enrolment_start(user=user)
        if has_authenticator(user):
            self.stdout.write(
                f"{user.email} has an authenticator; this link replaces it once they use it."
            )
        elif not two_factor_required(user):
            self.stdout.write(
                f"{user.email} may sign in without a second factor; once set up, they must use it."
            )
        hours = settings.TWO_FACTOR_LINK_MAX_AGE_HOURS
        self.stdout.write(f"Two-factor enrolment link for {user.email} (good for {hours} h):")
        self.stdout.write(enrolment.url)
