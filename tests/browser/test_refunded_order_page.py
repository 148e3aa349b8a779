"""A refunded order's page in a real browser (headless Chromium, MariaDB tier), at 1280×800 and
at a phone's size: after a part is refunded it still says paid and how much came back, after the
rest it says refunded; both fit the window under the Content-Security-Policy. Screenshots:
var/artifacts/screenshots/refunds/."""

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from selenium.webdriver.remote.webdriver import WebDriver

from payments.models import Payment
from payments.refunds.processing import refund_process
from payments.refunds.services import refund_request
from tests.browser.chromium import chromium, policy_violations
from tests.browser.test_checkout_in_a_browser import wait_for_text
from tests.browser.test_dev_mailbox import SIZES, fits
from tests.browser.test_pay_another_way import sign_in
from tests.factories import StaffFactory, UserFactory
from tests.payments.test_refunds import balance_payment

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "artifacts" / "screenshots" / "refunds"

pytestmark = [pytest.mark.mysql, pytest.mark.django_db(transaction=True)]


@pytest.fixture(params=list(SIZES))
def browser(request) -> Iterator[tuple[str, WebDriver]]:
    with chromium(**SIZES[request.param]) as driver:
        yield request.param, driver


def refund_made(payment: Payment, amount: Decimal | None) -> None:
    """A refund asked for by staff and made, as the refund task makes it."""
    staff = StaffFactory.create()
    operation = refund_request(
        payment_id=payment.pk, amount=amount, reason="customer returned the parcel", actor=staff
    )
    refund_process(operation.pk)


def test_a_refunded_order_s_page_says_what_came_back_within_the_window(browser, live_server):
    size, driver = browser
    customer = UserFactory.create()
    payment = balance_payment(customer)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    refund_made(payment, Decimal("60"))
    sign_in(driver, live_server.url, customer, f"/orders/{payment.order.number}/")
    wait_for_text(driver, "60 TWD of the 960 TWD you paid has been refunded.")
    assert "Paid. Thank you!" in driver.page_source
    assert fits(driver)
    assert policy_violations(driver) == []
    driver.save_screenshot(str(SCREENSHOTS / f"partly-{size}.png"))

    refund_made(payment, None)  # what is left
    driver.refresh()
    wait_for_text(driver, "All 960 TWD you paid has been refunded. It is back in your balance.")
    assert "Paid. Thank you!" not in driver.page_source
    assert fits(driver)
    assert policy_violations(driver) == []
    driver.save_screenshot(str(SCREENSHOTS / f"refunded-{size}.png"))
