"""The progress bar of long commands, and walking a table in batches of primary keys."""

import io

import pytest

from core.batches import ids_in_batches
from core.progress import Progress
from payments.models import Payment
from tests.factories import PaymentFactory


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_is_drawn_on_a_terminal():
    terminal = Terminal()

    with Progress(total=4, label="expiring", stream=terminal) as progress:
        for _ in range(4):
            progress.advance()

    assert terminal.getvalue().endswith("\rexpiring [" + "#" * 30 + "] 100% 4/4\n")


def test_nothing_is_written_when_the_output_is_not_a_terminal():
    log = io.StringIO()

    with Progress(total=4, label="expiring", stream=log) as progress:
        progress.advance(4)

    assert log.getvalue() == ""


@pytest.mark.django_db
def test_batches_cover_every_id_once_in_order_up_to_the_limit():
    ids = [PaymentFactory.create().pk for _ in range(7)]

    assert list(ids_in_batches(Payment.objects.all(), size=3)) == [ids[:3], ids[3:6], ids[6:]]
    assert list(ids_in_batches(Payment.objects.all(), size=3, limit=4)) == [ids[:3], ids[3:4]]
    assert list(ids_in_batches(Payment.objects.none(), size=3)) == []
