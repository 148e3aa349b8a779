"""Every page works under the Content-Security-Policy, which lets no inline script or style run
and nothing load from elsewhere: the API's documentation (Swagger UI, Redoc, from
drf-spectacular-sidecar), the back office, the customer's pages. Chromium reports each refusal
on its console; none may appear. (The card checkout through ECPay's simulator, where the pages
post their signed forms with static/js/submit-form.js, is test_checkout_in_a_browser's.)"""

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.back_office import manager
from tests.browser.back_office import staff_signs_in
from tests.browser.chromium import chromium, policy_violations
from tests.browser.test_checkout_in_a_browser import wait_for_text
from tests.factories import PASSWORD, OrderFactory, UserFactory


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        yield driver


def sign_in(browser: WebDriver, site: str, email: str, path: str) -> None:
    browser.get(f"{site}/accounts/login/?next={path}")
    browser.find_element(By.NAME, "username").send_keys(email)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.XPATH, "//button[@type='submit']").click()


# What the policy refuses Redoc and may: the two stylesheets it writes before it is given the
# page's nonce (the page is drawn without them), and the Redocly logo it would fetch from
# cdn.redoc.ly (no reader of our docs is sent to a third party).
REDOC_REFUSALS_EXPECTED = ("Applying inline style", "cdn.redoc.ly")


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_the_api_documentation_draws_itself_under_the_policy(browser: WebDriver, live_server):
    browser.get(f"{live_server.url}/api/docs/")
    wait_for_text(browser, "Start a payment")
    assert policy_violations(browser) == []

    browser.get(f"{live_server.url}/api/redoc/")
    wait_for_text(browser, "Start a payment")
    refused = policy_violations(browser)
    assert [r for r in refused if not any(e in r for e in REDOC_REFUSALS_EXPECTED)] == []
    assert len(refused) <= 3


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_the_back_office_and_its_dashboard_work_under_the_policy(browser: WebDriver, live_server):
    staff = manager()
    staff.set_password(PASSWORD)
    staff.save()
    staff_signs_in(browser, live_server.url, staff)
    wait_for_text(browser, "Payments back office")

    for path, text in [
        ("/admin/dashboard/", "Waiting for review"),
        ("/admin/payments/payment/", "Select payment"),
        ("/admin/payments/payment/?queue=review", "Select payment"),
    ]:
        browser.get(f"{live_server.url}{path}")
        wait_for_text(browser, text)
        assert policy_violations(browser) == [], path


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_the_customers_pages_work_under_the_policy(browser: WebDriver, live_server):
    customer = UserFactory.create()
    order = OrderFactory.create(user=customer)
    sign_in(browser, live_server.url, customer.email, f"/checkout/{order.number}/")
    wait_for_text(browser, "How would you like to pay?")
    assert policy_violations(browser) == []

    browser.get(f"{live_server.url}/orders/")
    wait_for_text(browser, order.number)
    assert policy_violations(browser) == []
