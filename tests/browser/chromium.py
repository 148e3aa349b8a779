"""Debian's Chromium and chromedriver (bin/lib.sh installs them), headless: nothing is
downloaded. Each browser test's fixture opens one of these."""

from collections.abc import Iterator
from contextlib import contextmanager

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chromium.webdriver import ChromiumDriver
from selenium.webdriver.remote.webdriver import WebDriver

WAIT_SECONDS = 20
# A mid-sized phone (CSS pixels): the customer's pages must read well at this size.
PHONE = (412, 915)
# A laptop's browser window.
DESKTOP = (1280, 800)


@contextmanager
def chromium(*, window: tuple[int, int] = DESKTOP, phone: bool = False) -> Iterator[WebDriver]:
    """A headless Chromium with a `window` (width, height), or emulating a phone's screen."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        # Without these, Chromium's own connections are refused by this closed network.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--window-size={window[0]},{window[1]}",
    ):
        options.add_argument(argument)
    # The console's messages, for `policy_violations`.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if phone:
        # A phone's screen, not a narrow window: headless Chromium keeps windows 500 pixels wide.
        options.add_experimental_option(
            "mobileEmulation",
            {"deviceMetrics": {"width": PHONE[0], "height": PHONE[1], "pixelRatio": 1}},
        )
    driver = webdriver.Chrome(
        service=Service(executable_path="/usr/bin/chromedriver"), options=options
    )
    driver.set_page_load_timeout(WAIT_SECONDS)
    try:
        yield driver
    finally:
        driver.quit()


def policy_violations(browser: WebDriver) -> list[str]:
    """What the Content-Security-Policy refused since the last call: Chromium says each on its
    console ("Refused to execute inline script ...")."""
    assert isinstance(browser, ChromiumDriver)
    return [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"]
    ]
