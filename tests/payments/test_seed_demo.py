import shlex

import pytest
from django.core.management import CommandError, call_command
from django.test import RequestFactory, override_settings
from rest_framework.authtoken.models import Token

from accounts.models import User
from orders.models import Order, OrderStatus


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
    assert set(passwords) == {
        "staff@example.com",
        "reviewer@example.com",
        "customer@example.com",
    }
    for email, password in passwords.items():
        assert client.login(request=RequestFactory().get("/"), username=email, password=password)
    staff = User.objects.get(email="staff@example.com")
    reviewer = User.objects.get(email="reviewer@example.com")
    # Roles, not superpowers: the manager may refund, the reviewer may only look.
    assert staff.is_staff
    assert not staff.is_superuser
    assert staff.has_perm("payments.refund_payment")
    assert staff.has_perm("orders.add_order")
    assert reviewer.is_staff
    assert not reviewer.is_superuser
    assert reviewer.has_perm("payments.view_payment")
    assert not reviewer.has_perm("payments.refund_payment")
    assert Order.objects.filter(user__email="customer@example.com").count() == 3
    # The manager must set up two-factor sign-in, the reviewer may: each gets a link.
    assert "two-factor sign-in (needed), set it up here: http" in output
    assert "two-factor sign-in (optional), set it up here: http" in output


@pytest.mark.django_db
@override_settings(DEBUG=True, SITE_URL="http://127.0.0.1:8123", DEVELOPMENT_PORT=8123)
def test_seed_demo_prints_one_export_line_for_the_readme_s_tours(capsys):
    call_command("seed_demo")

    [line] = [line for line in capsys.readouterr().out.splitlines() if "export " in line]
    exported = dict(word.split("=", 1) for word in shlex.split(line.strip())[1:])
    assert exported == {
        "PORT": "8123",
        "SITE_URL": "http://127.0.0.1:8123",
        "API": "http://127.0.0.1:8123/api/v1",
        "TOKEN": Token.objects.get(user__email="customer@example.com").key,
        "STAFF_TOKEN": Token.objects.get(user__email="staff@example.com").key,
    }


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_seed_demo_runs_again_without_duplicating_anything(capsys):
    call_command("seed_demo")
    call_command("seed_demo")

    assert User.objects.count() == 3
    assert Order.objects.count() == 3


@pytest.mark.django_db
def test_seed_demo_refuses_outside_development():
    with pytest.raises(CommandError, match="development only"):
        call_command("seed_demo")
    assert not User.objects.exists()


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_the_dry_run_says_what_it_would_do_and_changes_nothing(capsys):
    call_command("seed_demo", "--dry-run")

    assert capsys.readouterr().out.splitlines() == [
        "would create staff@example.com",
        "would create reviewer@example.com",
        "would create customer@example.com",
        "would create 3 orders for customer@example.com",
        "dry run: nothing changed",
    ]
    assert not User.objects.exists()

    call_command("seed_demo")
    password = User.objects.get(email="customer@example.com").password
    capsys.readouterr()
    call_command("seed_demo", "--dry-run")

    assert "would give customer@example.com a new password" in capsys.readouterr().out
    assert User.objects.get(email="customer@example.com").password == password


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_each_run_tops_the_customer_up_to_enough_unpaid_orders(capsys):
    call_command("seed_demo")
    paid = Order.objects.order_by("created_at").first()
    Order.objects.filter(pk=paid.pk).update(status=OrderStatus.PAID)  # as a tour would leave it

    call_command("seed_demo")
    assert Order.objects.filter(status=OrderStatus.PENDING_PAYMENT).count() == 3
    call_command("seed_demo", "--orders", "6")

    assert Order.objects.filter(status=OrderStatus.PENDING_PAYMENT).count() == 6
    assert Order.objects.count() == 7
    listed = [line for line in capsys.readouterr().out.splitlines() if "  order " in line]
    assert len(listed) == 3 + 3 + 6
    assert all("pending_payment" in line for line in listed)
