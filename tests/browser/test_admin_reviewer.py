"""A reviewer works the back office in a real browser (headless Chromium): signs in, finds a
dead letter by its MerchantTradeNo and reprocesses it through the confirmation page.

The live server answers from threads of its own, which must see the test's rows: this runs on
the MariaDB tier, with a real database. The screenshots are kept under SCREENSHOTS.
"""

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from gateways.models import Gateway
from payments.models import Payment, PaymentStatus
from payments.services import payment_fail
from tests.back_office import reviewer
from tests.browser.chromium import WAIT_SECONDS, chromium
from tests.factories import PASSWORD, PaymentFactory

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "artifacts" / "screenshots" / "admin-reviewer"


@pytest.fixture
def roles_again(transactional_db) -> None:
    """A transactional test starts from a flushed database, without the roles their data
    migration made: make them again, with that migration's own code."""
    migration = importlib.import_module("accounts.migrations.0003_back_office_roles")
    migration.create_roles(django_apps, None)


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    with chromium(window=(1400, 1000)) as driver:
        yield driver


def screenshot(browser: WebDriver, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def wait_for_text(browser: WebDriver, text: str) -> None:
    WebDriverWait(browser, WAIT_SECONDS).until(
        expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "body"), text)
    )


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_a_reviewer_finds_a_dead_letter_by_its_merchant_trade_no_and_reprocesses_it(
    browser: WebDriver, live_server, roles_again
):
    print(f"screenshots: {SCREENSHOTS}")  # noqa: T201 (where to find the artifacts, with -s)
    staff = reviewer()
    # ECPay reported it paid (its TradeNo is recorded), then our update step crashed.
    letter = PaymentFactory.create(
        gateway=Gateway.ECPAY,
        merchant_trade_no="TS2025060300017",
        gateway_reference="2506031200017",
    )
    payment_fail(payment_id=letter.pk, reason="update step crashed", needs_review=True)
    other = PaymentFactory.create(gateway=Gateway.ECPAY, merchant_trade_no="TS2025060300018")

    browser.get(f"{live_server.url}/admin/login/?next=/admin/payments/payment/")
    browser.find_element(By.NAME, "username").send_keys(staff.email)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for_text(browser, "Select payment to view")

    search = browser.find_element(By.ID, "searchbar")
    search.send_keys("TS2025060300017")
    search.submit()
    wait_for_text(browser, f"{letter.public_id[:8]}…{letter.public_id[-4:]}")
    assert other.public_id not in browser.page_source
    screenshot(browser, "01-found-by-merchant-trade-no")

    browser.find_element(By.CSS_SELECTOR, "input.action-select").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("reprocess")
    browser.find_element(By.NAME, "index").click()
    wait_for_text(browser, "Reprocess payments")
    screenshot(browser, "02-confirmation")
    browser.find_element(By.CSS_SELECTOR, "input[value='Yes, reprocess them']").click()

    wait_for_text(browser, f"Reprocessing {letter.public_id}.")
    screenshot(browser, "03-reprocessed")
    reprocessed = Payment.objects.get(pk=letter.pk).events.get(type="reprocessed")
    assert reprocessed.actor == staff
    assert (reprocessed.from_status, reprocessed.to_status) == (
        PaymentStatus.FAILED,
        PaymentStatus.PROCESSING,
    )
