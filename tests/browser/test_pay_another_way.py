"""A customer with an ATM account issued pays another way, in a real browser, and later pays
the ATM account all the same: the order is paid once, and the ATM money goes to their balance.

Headless Chromium, our pages and the ECPay simulator on one live server (MariaDB tier, as the
simulator notifies us from a thread of its own). Screenshots of the page that asks the customer
to choose knowingly, at a phone's size and at 1280×800, go to
var/artifacts/screenshots/pay-another-way/.
"""

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.conf import settings
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from accounts.models import User
from core.models import Currency
from orders.models import Order, OrderStatus
from orders.pricing import ItemLine
from orders.services import order_create
from payments.models import LedgerEntryType, Payment, PaymentMethod, PaymentStatus
from payments.selectors import ledger_mismatches
from payments.services import balance_credit
from tests.browser.chromium import DESKTOP, WAIT_SECONDS, chromium
from tests.browser.test_checkout_in_a_browser import button, wait_for_text
from tests.factories import PASSWORD, UserFactory

SCREENSHOTS = settings.BASE_DIR / "var" / "artifacts" / "screenshots" / "pay-another-way"


@pytest.fixture
def phone() -> Iterator[WebDriver]:
    with chromium(phone=True) as driver:
        yield driver


@pytest.fixture
def desktop() -> Iterator[WebDriver]:
    with chromium(window=DESKTOP) as driver:
        yield driver


def screenshot(browser: WebDriver, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def sign_in(browser: WebDriver, site: str, customer: User, next_path: str) -> None:
    browser.get(f"{site}/accounts/login/?next={next_path}")
    browser.find_element(By.NAME, "username").send_keys(customer.email)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    button(browser, "Sign in").click()


def order_paid(order_pk: int) -> bool:
    return Order.objects.get(pk=order_pk).status == OrderStatus.PAID


def until(check, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {WAIT_SECONDS} s for {what}")
        time.sleep(0.3)


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_paying_another_way_after_an_atm_account_pays_the_order_once(
    phone: WebDriver, desktop: WebDriver, ecpay_on_live_server: str
):
    browser = phone
    site = ecpay_on_live_server
    customer: User = UserFactory.create()
    balance_credit(
        user_id=customer.pk,
        amount=Decimal("960"),
        currency="TWD",
        entry_type=LedgerEntryType.DEPOSIT,
    )
    tea = ItemLine(sku="TEA-001", name="Oolong tea 150 g", unit_price=Decimal("450"), quantity=2)
    order = order_create(user=customer, items=[tea], currency=Currency.TWD)

    # The customer asks ECPay for an ATM account.
    sign_in(browser, site, customer, f"/checkout/{order.number}/")
    wait_for_text(browser, "How would you like to pay?")
    browser.find_element(By.XPATH, "//label[normalize-space()='ATM transfer']").click()
    button(browser, "Pay 960 TWD with ECPay").click()
    button(browser, "Get ATM account").click()
    wait_for_text(browser, "Pay at ATM now")
    ecpay_trade_page = browser.current_url
    atm = Payment.objects.get(order=order, method=PaymentMethod.ATM)
    until(lambda: Payment.objects.get(pk=atm.pk).payment_code, "the ATM account to reach us")

    # The order page shows the account; "Pay another way" shows what cancelling means.
    browser.get(f"{site}/orders/{order.number}/")
    wait_for_text(browser, "Waiting for your payment")
    browser.find_element(By.LINK_TEXT, "Pay another way").click()
    wait_for_text(browser, "A payment of this order is under way")
    assert "How would you like to pay?" not in browser.page_source
    assert "added to your balance, not to this order" in browser.page_source
    screenshot(browser, "01-under-way-phone")
    sign_in(desktop, site, customer, f"/checkout/{order.number}/")
    wait_for_text(desktop, "A payment of this order is under way")
    screenshot(desktop, "01-under-way-1280x800")

    # The customer chooses knowingly: cancel, then pay from the balance.
    button(browser, "Cancel this payment and pay another way").click()
    wait_for_text(browser, "How would you like to pay?")
    button(browser, "Pay 960 TWD from my balance").click()
    until(lambda: order_paid(order.pk), "the order paid")
    browser.get(f"{site}/orders/{order.number}/")
    wait_for_text(browser, "Paid. Thank you!")
    screenshot(browser, "02-paid-from-balance")

    # ...and pays the ATM account at the bank all the same.
    browser.get(ecpay_trade_page)
    button(browser, "Pay at ATM now").click()
    until(
        lambda: Payment.objects.get(pk=atm.pk).status == PaymentStatus.CREDITED,
        "the ATM money to be credited",
    )

    order.refresh_from_db()
    customer.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert Payment.objects.filter(order=order, status=PaymentStatus.COMPLETED).count() == 1
    assert customer.balance == Decimal("960")
    assert Payment.objects.get(pk=atm.pk).needs_review is True
    assert ledger_mismatches() == []
