"""The back office read in a real browser (headless Chromium, MariaDB tier) at 1280×800 and at a
phone's size (issue 23): the payment list's amount and status cells lie inside the window, a
payment's page is no wider than the window, and its timeline names the member of staff who
refunded it; a manager signs in with two factors.
Screenshots: var/artifacts/screenshots/back-office/."""

import base64
import importlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django_otp.oath import totp
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from accounts.models import User
from accounts.two_factor import enrolment_start
from gateways.models import CallbackOutcome, Gateway, GatewayCallback
from payments.models import (
    DiscrepancyKind,
    GatewayOperation,
    OperationKind,
    OperationStatus,
    PaymentKind,
    PaymentStatus,
    ReconciliationDiscrepancy,
    RefundApproval,
)
from payments.refunds.services import refund_request
from payments.services import payment_event_record
from tests.back_office import manager, reviewer
from tests.browser.back_office import staff_signs_in
from tests.browser.chromium import WAIT_SECONDS, chromium
from tests.factories import PASSWORD, OrderFactory, PaymentFactory, UserFactory

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "artifacts" / "screenshots" / "back-office"
SIZES: dict[str, dict[str, Any]] = {"desktop": {"window": (1280, 800)}, "phone": {"phone": True}}

pytestmark = [pytest.mark.mysql, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def roles_again(transactional_db) -> None:
    """A transactional test starts from a flushed database: the roles again, by their migration."""
    migration = importlib.import_module("accounts.migrations.0003_back_office_roles")
    migration.create_roles(django_apps, None)


@pytest.fixture(params=list(SIZES))
def browser(request) -> Iterator[tuple[str, WebDriver]]:
    with chromium(**SIZES[request.param]) as driver:
        yield request.param, driver


def shown(browser: WebDriver, selector: str) -> None:
    WebDriverWait(browser, WAIT_SECONDS).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, selector))
    )


def inside_window(browser: WebDriver, element) -> bool:
    box = browser.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return [r.left, r.right, window.innerWidth];",
        element,
    )
    left, right, width = box
    return bool(left >= 0 and right <= width)


def shown_in_list(browser: WebDriver, cell) -> bool:
    """Whether a list's cell is on screen without scrolling the list's own box sideways (a box
    that scrolls keeps the page within the window but can hide the columns at its end)."""
    return bool(
        browser.execute_script(
            "const r = arguments[0].getBoundingClientRect();"
            "const box = arguments[0].closest('.results').getBoundingClientRect();"
            "return r.left >= box.left && r.right <= box.right + 1"
            " && r.left >= 0 && r.right <= window.innerWidth;",
            cell,
        )
    )


def page_width(browser: WebDriver) -> tuple[int, int]:
    width, window = browser.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth];"
    )
    return int(width), int(window)


def screenshot(browser: WebDriver, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def test_the_payment_list_shows_amount_and_status_within_the_window(
    browser, live_server, roles_again
):
    size, driver = browser
    for number in range(3):
        customer = UserFactory.create(email=f"a.rather.long.customer.name.{number}@example.com")
        PaymentFactory.create(user=customer, amount=Decimal("123456.78"), needs_review=number == 0)
    staff_signs_in(driver, live_server.url, manager(), "/admin/payments/payment/")
    shown(driver, "#result_list")
    screenshot(driver, f"payment-list-{size}")

    for cell in ("amount_display", "status_badge"):
        cells = driver.find_elements(By.CSS_SELECTOR, f"#result_list td.field-{cell}")
        assert len(cells) == 3
        assert all(shown_in_list(driver, td) for td in cells), (size, cell)
    width, window = page_width(driver)
    assert width <= window, size


def test_a_payments_page_fits_the_window_and_names_who_refunded_it(
    browser, live_server, roles_again
):
    size, driver = browser
    staff = manager()
    order = OrderFactory.create()
    payment = PaymentFactory.create(
        user=order.user,
        kind=PaymentKind.ORDER,
        order=order,
        amount=order.total,
        status=PaymentStatus.COMPLETED,
        gateway_reference="ch_" + "x" * 40,
    )
    # A long record on the timeline: what made the page 4,500 px wide.
    payment_event_record(payment_id=payment.pk, type="charge_attempt", data={"answer": "y" * 600})
    operation = refund_request(
        payment_id=payment.pk, amount=Decimal("100"), reason="dented tin", actor=staff
    )
    assert (operation.kind, operation.status) == (OperationKind.REFUND, OperationStatus.PENDING)
    staff_signs_in(driver, live_server.url, staff, f"/admin/payments/payment/{payment.pk}/change/")
    shown(driver, "#events-group")
    screenshot(driver, f"payment-page-{size}")

    width, window = page_width(driver)
    assert width <= window, size
    rows = driver.find_elements(By.CSS_SELECTOR, "#events-group tbody tr")
    refund_row = next(row for row in rows if "refund_requested" in row.text)
    assert staff.email in refund_row.text


def test_the_dashboard_fits_the_window_and_its_chart_answers_a_hover(
    browser, live_server, roles_again
):
    size, driver = browser
    PaymentFactory.create(status=PaymentStatus.COMPLETED)
    staff_signs_in(driver, live_server.url, manager(), "/admin/dashboard/")
    shown(driver, ".dashboard-chart")
    screenshot(driver, f"dashboard-{size}")

    width, window = page_width(driver)
    assert width <= window, size
    days = driver.find_elements(By.CSS_SELECTOR, ".dashboard-chart rect.chart-day")
    assert len(days) == 30
    titles = [day.find_element(By.TAG_NAME, "title").get_attribute("textContent") for day in days]
    assert titles[-1].endswith("1 payment (1 completed)")
    assert all(title for title in titles)


def test_a_manager_needs_a_second_factor_and_sets_it_up_from_the_link(
    browser, live_server, roles_again
):
    size, driver = browser
    staff = manager()
    driver.get(f"{live_server.url}/admin/login/?next=/admin/payments/payment/")
    driver.find_element(By.NAME, "username").send_keys(staff.email)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    shown(driver, ".two-factor-box")
    screenshot(driver, f"two-factor-needed-{size}")
    assert "/admin/two-factor/" in driver.current_url
    driver.get(f"{live_server.url}/admin/payments/payment/")
    assert "/admin/payments/payment/" not in driver.current_url.split("?")[0]

    driver.get(live_server.url + urlsplit(enrolment_start(user=staff).url).path)
    shown(driver, ".qr-code svg")
    screenshot(driver, f"two-factor-enrol-{size}")
    assert inside_window(driver, driver.find_element(By.CSS_SELECTOR, ".qr-code svg"))
    secret = driver.find_element(By.ID, "totp-secret").text.replace(" ", "")
    code = totp(base64.b32decode(secret))
    driver.find_element(By.NAME, "code").send_keys(f"{code:06d}")
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    shown(driver, "#recovery-codes")
    screenshot(driver, f"two-factor-recovery-codes-{size}")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#recovery-codes li")) == 10

    driver.get(f"{live_server.url}/admin/payments/payment/")
    shown(driver, "#changelist")
    width, window = page_width(driver)
    assert width <= window, size


LISTS = {
    # list: the column a reviewer reads to know where each row stands
    "orders/order": "status",
    "gateways/gatewaycallback": "outcome",
    "payments/gatewayoperation": "status",
    "payments/reconciliationdiscrepancy": "kind",
    "payments/refundapproval": "status",
}


def test_the_other_lists_fit_the_window_with_long_values(browser, live_server, roles_again):
    size, driver = browser
    customer = UserFactory.create(email=f"{'a.long.name.' * 4}customer@example.com")
    order = OrderFactory.create(user=customer)
    payment = PaymentFactory.create(
        user=customer, kind=PaymentKind.ORDER, order=order, amount=order.total
    )
    staff = User.objects.create_superuser(
        email=f"{'a.long.name.' * 3}manager@example.com", password=PASSWORD
    )
    GatewayCallback.objects.create(
        gateway=Gateway.ECPAY,
        body="RtnCode=1",
        external_reference="TS" + "9" * 18,
        outcome=CallbackOutcome.REJECTED,
        outcome_reason="the CheckMacValue does not match " * 7,
        payment=payment,
    )
    GatewayOperation.objects.create(
        payment=payment,
        gateway=Gateway.CARD,
        kind=OperationKind.REFUND,
        idempotency_key="refund-" + "k" * 57,
        amount=Decimal("100"),
        currency=payment.currency,
        reason="one tin arrived dented and the lid was missing " * 5,
    )
    ReconciliationDiscrepancy.objects.create(
        payment=payment, kind=DiscrepancyKind.AMOUNT_MISMATCH, details={"ours": "960"}
    )
    RefundApproval.objects.create(
        payment=payment,
        amount=Decimal("960"),
        reason="the customer called twice about the wrong teapot " * 5,
        requested_by=staff,
    )
    staff_signs_in(driver, live_server.url, staff)

    for path, column in LISTS.items():
        driver.get(f"{live_server.url}/admin/{path}/")
        shown(driver, "#result_list")
        screenshot(driver, f"list-{path.split('/')[1]}-{size}")
        width, window = page_width(driver)
        assert width <= window, (size, path)
        if size == "desktop":
            cells = driver.find_elements(By.CSS_SELECTOR, f"#result_list td.field-{column}")
            assert cells, path
            assert all(shown_in_list(driver, td) for td in cells), (path, column)


def test_a_customers_page_fits_the_window(browser, live_server, roles_again):
    size, driver = browser
    customer = UserFactory.create(email=f"{'a.long.name.' * 4}customer@example.com")
    order = OrderFactory.create(user=customer)
    for status in (PaymentStatus.COMPLETED, PaymentStatus.FAILED):
        PaymentFactory.create(
            user=customer, kind=PaymentKind.ORDER, order=order, amount=order.total, status=status
        )
    staff_signs_in(
        driver, live_server.url, manager(), f"/admin/accounts/user/{customer.pk}/change/"
    )
    shown(driver, ".customer-overview")
    screenshot(driver, f"customer-page-{size}")

    width, window = page_width(driver)
    assert width <= window, size
    assert len(driver.find_elements(By.CSS_SELECTOR, "#customer-payments + div tbody tr")) == 2


def test_the_language_switch_turns_the_back_office_chinese(browser, live_server, roles_again):
    size, driver = browser
    payment = PaymentFactory.create(status=PaymentStatus.COMPLETED)
    staff_signs_in(driver, live_server.url, manager(), "/admin/dashboard/")
    shown(driver, ".dashboard-chart")

    driver.find_element(By.CSS_SELECTOR, '#language-switch button[value="zh-hant"]').click()
    WebDriverWait(driver, WAIT_SECONDS).until(lambda b: "付款儀表板" in b.page_source)
    screenshot(driver, f"dashboard-zh-hant-{size}")
    driver.get(f"{live_server.url}/admin/payments/payment/{payment.pk}/change/")
    shown(driver, ".payment-summary")
    screenshot(driver, f"payment-page-zh-hant-{size}")

    assert "已完成" in driver.find_element(By.CSS_SELECTOR, ".payment-summary").text
    width, window = page_width(driver)
    assert width <= window, size


def test_a_reviewers_refund_is_refused_naming_the_permission(browser, live_server, roles_again):
    size, driver = browser
    payment = PaymentFactory.create(status=PaymentStatus.COMPLETED)
    staff_signs_in(driver, live_server.url, reviewer(), "/admin/payments/payment/")
    shown(driver, "#result_list")
    # The list offers a reviewer no refund; a page kept open from before a role changed, or a
    # crafted form, still sends one.
    driver.execute_script(
        "const select = document.querySelector('select[name=action]');"
        "select.add(new Option('Refund (one payment)', 'refund'));"
        "select.value = 'refund';"
    )
    driver.find_element(By.CSS_SELECTOR, f"input.action-select[value='{payment.pk}']").click()
    driver.find_element(By.NAME, "index").click()
    shown(driver, ".messagelist .error")
    screenshot(driver, f"refund-refused-{size}")

    message = driver.find_element(By.CSS_SELECTOR, ".messagelist .error").text
    assert "payments.refund_payment" in message
    assert "Payment managers" in message
    assert not payment.operations.exists()
