import pytest
from django.db import connection

from tests.factories import UserFactory


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The SQLite tier has no row locks worth testing and no real broker: such tests say so.
    if connection.vendor == "mysql":
        return
    skip = pytest.mark.skip(reason="needs MariaDB / MySQL (the real-stack tier runs it)")
    for item in items:
        if "mysql" in item.keywords or "integration" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def customer(db):
    return UserFactory.create()
