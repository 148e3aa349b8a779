"""The gateways' start-up checks: an ECPay setting out of the range ECPay takes stops the start
(`manage.py check`), instead of every ATM or store payment being refused by ECPay."""

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError


def check_ids() -> list[str]:
    return [message.id or "" for message in run_checks() if message.id]


def test_the_defaults_pass():
    assert not [id_ for id_ in check_ids() if id_.startswith("gateways.")]


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("ECPAY_ATM_EXPIRE_DAYS", 0),
        ("ECPAY_ATM_EXPIRE_DAYS", 61),
        ("ECPAY_CVS_EXPIRE_MINUTES", 43201),
        # The CVS minutes reused for a barcode, whose StoreExpireDate is days.
        ("ECPAY_BARCODE_EXPIRE_DAYS", 10080),
        ("ECPAY_BARCODE_EXPIRE_DAYS", 0),
        ("ECPAY_BARCODE_EXPIRE_DAYS", "7"),
    ],
)
def test_a_code_validity_outside_ecpays_range_is_refused(settings, setting, value):
    setattr(settings, setting, value)

    [error] = [m for m in run_checks() if m.id == "gateways.E001"]
    assert setting in error.msg
    with pytest.raises(SystemCheckError, match=setting):
        call_command("check")


@pytest.mark.parametrize(
    ("setting", "value", "check_id"),
    [
        ("ECPAY_BARCODE_RESULT_DELAY_HOURS", -1, "gateways.E002"),
        ("ECPAY_BARCODE_RESULT_DELAY_HOURS", 24 * 31, "gateways.E002"),
        ("ECPAY_RECONCILE_REASK_MINUTES", 0, "gateways.E003"),
    ],
)
def test_a_reporting_delay_or_reask_interval_out_of_range_is_refused(
    settings, setting, value, check_id
):
    setattr(settings, setting, value)

    assert check_id in check_ids()


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("ECPAY_ATM_EXPIRE_DAYS", 60),
        ("ECPAY_CVS_EXPIRE_MINUTES", 1),
        ("ECPAY_BARCODE_EXPIRE_DAYS", 30),
    ],
)
def test_the_edges_of_ecpays_ranges_pass(settings, setting, value):
    setattr(settings, setting, value)

    assert "gateways.E001" not in check_ids()
