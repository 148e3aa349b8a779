"""A customer pays for an order by card in a real browser: headless Chromium, our pages and the
ECPay simulator, all served by one live server.

The simulator posts the payment notification to our ReturnURL from a thread of its own, so the
live server's threads and the test must share a real database: this runs on the MariaDB tier.
"""

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from accounts.models import User
from core.models import Currency
from orders.models import OrderStatus
from orders.pricing import ItemLine
from orders.services import order_create
from payments.models import Payment, PaymentStatus
from tests.browser.chromium import WAIT_SECONDS, chromium
from tests.factories import PASSWORD, UserFactory

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "artifacts" / "screenshots" / "checkout"


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    with chromium(phone=True) as driver:
        yield driver


def screenshot(browser: WebDriver, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def wait_for_text(browser: WebDriver, text: str) -> None:
    # A page read while the click before it is still replacing it can answer "node does not
    # belong to the document": that is the page changing, so it is read again, not a failure.
    WebDriverWait(browser, WAIT_SECONDS, ignored_exceptions=[WebDriverException]).until(
        expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "body"), text)
    )


def button(browser: WebDriver, text: str):
    return WebDriverWait(browser, WAIT_SECONDS).until(
        expected_conditions.element_to_be_clickable(
            (By.XPATH, f"//button[normalize-space()='{text}']")
        )
    )


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_a_customer_pays_by_card_on_ecpay_and_sees_the_order_paid(
    browser: WebDriver, ecpay_on_live_server: str
):
    site = ecpay_on_live_server
    customer: User = UserFactory.create()
    order = order_create(
        user=customer,
        items=[
            ItemLine(sku="TEA-001", name="Oolong tea 150 g", unit_price=Decimal("450"), quantity=2)
        ],
        currency=Currency.TWD,
    )

    # Signing in on the login page leads to the checkout the customer asked for.
    browser.get(f"{site}/accounts/login/?next=/checkout/{order.number}/")
    browser.find_element(By.NAME, "username").send_keys(customer.email)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    screenshot(browser, "01-login")
    button(browser, "Sign in").click()

    wait_for_text(browser, "How would you like to pay?")
    assert browser.current_url == f"{site}/checkout/{order.number}/"
    browser.find_element(By.XPATH, "//label[normalize-space()='Credit card']").click()
    screenshot(browser, "02-checkout")
    button(browser, "Pay 960 TWD with ECPay").click()

    # Our page submits the signed form by itself: the browser is on ECPay's page.
    pay = button(browser, "Pay")
    assert browser.current_url.startswith(f"{site}/simulators/ecpay/")
    screenshot(browser, "03-ecpay")
    pay.click()

    # ECPay sends the browser back to OrderResultURL; the page shows what our database says.
    WebDriverWait(browser, WAIT_SECONDS).until(
        expected_conditions.url_to_be(f"{site}/checkout/{order.number}/result/")
    )
    wait_for_text(browser, f"Order {order.number}")
    assert "could not confirm" not in browser.page_source
    screenshot(browser, "04-result")

    # The notification arrives from the simulator's thread: look at the order until it is paid.
    deadline = time.monotonic() + WAIT_SECONDS
    browser.get(f"{site}/orders/{order.number}/")
    while "Paid. Thank you!" not in browser.page_source and time.monotonic() < deadline:
        time.sleep(0.5)
        browser.refresh()
    assert "Paid. Thank you!" in browser.page_source
    screenshot(browser, "05-order")

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    payment = Payment.objects.get(order=order)
    assert payment.status == PaymentStatus.COMPLETED
