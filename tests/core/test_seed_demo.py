import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from accounts.models import User
from orders.models import Order


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_seed_demo_creates_users_whose_printed_passwords_work_and_three_orders(capsys, client):
    call_command("seed_demo")

    output = capsys.readouterr().out
    passwords = {
        line.split()[1]: line.split("password: ")[1].strip()
        for line in output.splitlines()
        if "password: " in line
    }
    assert set(passwords) == {"staff@example.com", "customer@example.com"}
    assert client.login(username="staff@example.com", password=passwords["staff@example.com"])
    assert User.objects.get(email="staff@example.com").is_staff
    assert Order.objects.filter(user__email="customer@example.com").count() == 3


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_seed_demo_runs_again_without_duplicating_anything(capsys):
    call_command("seed_demo")
    call_command("seed_demo")

    assert User.objects.count() == 2
    assert Order.objects.count() == 3


@pytest.mark.django_db
def test_seed_demo_refuses_outside_development():
    with pytest.raises(CommandError, match="development only"):
        call_command("seed_demo")
    assert not User.objects.exists()
