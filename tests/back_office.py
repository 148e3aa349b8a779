"""Members of staff in each back-office role, made the way the service makes them."""

import itertools

from accounts.models import User
from accounts.roles import MANAGERS, REVIEWERS
from accounts.services import user_create
from tests.factories import PASSWORD

_numbers = itertools.count(1)


def staff_in(role: str) -> User:
    return user_create(email=f"staff{next(_numbers)}@example.com", password=PASSWORD, roles=[role])


def reviewer() -> User:
    return staff_in(REVIEWERS)


def manager() -> User:
    return staff_in(MANAGERS)
