"""Signing in to the back office in a browser as staff do: the password, then (for a role that
moves money) a code from their authenticator."""

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from accounts.models import User
from accounts.two_factor import has_authenticator, two_factor_required
from tests.back_office import authenticator, current_code
from tests.browser.chromium import WAIT_SECONDS
from tests.factories import PASSWORD


def staff_signs_in(browser: WebDriver, site: str, staff: User, path: str = "/admin/") -> None:
    """Sign `staff` in on the admin's sign-in page, on to `path`. Someone who needs a second
    factor is given an authenticator (if they have none) and types its current code."""
    needs_code = two_factor_required(staff) or has_authenticator(staff)
    if needs_code:
        device = authenticator(staff)
        # Each code signs in once: a second sign-in within the same half minute takes the code
        # as if the authenticator had moved on.
        device.last_t = -1
        device.save(update_fields=["last_t"])
    browser.get(f"{site}/admin/login/?next={path}")
    browser.find_element(By.NAME, "username").send_keys(staff.email)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    if not needs_code:
        return
    WebDriverWait(browser, WAIT_SECONDS).until(lambda b: "/admin/two-factor/" in b.current_url)
    browser.find_element(By.NAME, "code").send_keys(current_code(device))
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda b: "/admin/two-factor/" not in b.current_url)
