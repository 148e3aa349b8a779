"""The development mailbox in a real browser (headless Chromium, MariaDB tier), at 1280×800 and at
a phone's size: the list and a message fit the window and run under the Content-Security-Policy;
the email's own HTML shows with its inline styles, sandboxed. Screenshots:
var/artifacts/screenshots/mailbox/."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from core.published import DEVELOPMENT_EMAIL_BACKEND
from notifications.channels import email_send
from notifications.mailbox import mailbox_messages
from payments.models import PaymentStatus
from tests.browser.chromium import chromium, policy_violations
from tests.browser.test_checkout_in_a_browser import wait_for_text
from tests.notifications.test_services import order_payment

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "artifacts" / "screenshots" / "mailbox"
SIZES: dict[str, dict[str, Any]] = {"desktop": {"window": (1280, 800)}, "phone": {"phone": True}}

pytestmark = [pytest.mark.mysql, pytest.mark.django_db(transaction=True)]


@pytest.fixture(params=list(SIZES))
def browser(request) -> Iterator[tuple[str, WebDriver]]:
    with chromium(**SIZES[request.param]) as driver:
        yield request.param, driver


def fits(browser: WebDriver) -> bool:
    """The page is no wider than the window, and no text runs out of its box (a box that clips
    would keep the page narrow and hide it)."""
    return bool(
        browser.execute_script(
            "if (document.documentElement.scrollWidth > window.innerWidth) return false;"
            "const texts = 'main a, main td, main code, main .muted';"
            "for (const e of document.querySelectorAll(texts)) {"
            "  const r = e.getBoundingClientRect();"
            "  const box = e.closest('.card, main').getBoundingClientRect();"
            "  if (r.right > box.right + 1 || r.right > window.innerWidth) return false;"
            "}"
            "return true;"
        )
    )


def test_the_mailbox_shows_a_customer_s_email_within_the_window(
    browser, live_server, settings, tmp_path
):
    size, driver = browser
    settings.DEBUG = True
    settings.EMAIL_BACKEND = DEVELOPMENT_EMAIL_BACKEND
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    payment = order_payment(status=PaymentStatus.FAILED, failure_reason="declined: card_declined")
    email_send(payment=payment, event="failed", details={}, recipient=payment.user.email)
    [message] = mailbox_messages()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    driver.get(f"{live_server.url}/dev/mail/")
    wait_for_text(driver, "Payment failed: 960.00 TWD")
    assert "UTC+08" in driver.find_element(By.CSS_SELECTOR, "ul.mailbox .muted").text
    assert fits(driver)
    assert policy_violations(driver) == []
    driver.save_screenshot(str(SCREENSHOTS / f"mailbox-{size}.png"))

    driver.find_element(By.LINK_TEXT, "Payment failed: 960.00 TWD").click()
    wait_for_text(driver, "your card was declined")
    assert fits(driver)
    assert policy_violations(driver) == []
    driver.save_screenshot(str(SCREENSHOTS / f"message-{size}.png"))

    driver.find_element(By.LINK_TEXT, "The HTML version").click()
    wait_for_text(driver, "your card was declined")
    assert driver.current_url.endswith(f"/dev/mail/{message.name}/html/")
    # Its own inline styles apply (the sandbox's policy lets them), and nothing is refused.
    font = driver.execute_script("return getComputedStyle(document.body).fontFamily;")
    assert "sans-serif" in font
    assert policy_violations(driver) == []
    driver.save_screenshot(str(SCREENSHOTS / f"message-html-{size}.png"))
