"""Headless Chromium through Selenium for the dashboard's browser tests: Debian's `chromium` and
`chromium-driver` (installed by scripts/test.sh). A missing browser FAILS the test, never skips it."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "chromium"
DRIVER = "chromedriver"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _binaries() -> tuple[str, str]:
    browser, driver = shutil.which(CHROMIUM), shutil.which(DRIVER)
    if not browser or not driver:
        pytest.fail(
            "headless Chromium is not available (the Debian packages chromium and chromium-driver); "
            "./scripts/test.sh installs them, or: apt-get install chromium chromium-driver",
            pytrace=False,
        )
    return browser, driver


@contextmanager
def chrome(javascript: bool = True) -> Iterator[webdriver.Chrome]:
    """A headless Chromium at 1280x900 that accepts the test's self-made TLS certificate."""
    browser, driver = _binaries()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(arg)
    options.accept_insecure_certs = True
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    # The driver named by path: Selenium Manager would try to download one.
    session = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    session.set_page_load_timeout(30)
    try:
        yield session
    finally:
        session.quit()


def open_page(session: WebDriver, url: str, arrived: Callable[[WebDriver], bool], tries: int = 3) -> None:
    """Navigate to `url` until `arrived(session)`, within 20 s of each of `tries` navigations.

    A fresh Chromium under load has, now and then, shown its own error page for a first
    navigation (the address stays `url`, no redirect followed) and never moved on: navigating
    again is what a user does. Each failed try's page text (Chromium's error code) is printed,
    so a run that needed a retry says why, and all of them are in the failure."""
    seen: list[str] = []
    for _ in range(tries):
        session.get(url)
        try:
            WebDriverWait(session, 20).until(arrived)
            return
        except TimeoutException:
            text = " ".join(session.find_element(By.TAG_NAME, "body").text.split())[:300]
            seen.append(f"at {session.current_url}: {text!r}")
            print(f"\nBROWSER RETRY {url}: {seen[-1]}")
    pytest.fail(f"{url}: not arrived after {tries} navigations:\n" + "\n".join(seen), pytrace=False)


def alert_shown(session: WebDriver) -> bool:
    try:
        session.switch_to.alert.dismiss()
    except NoAlertPresentException:
        return False
    return True


def screenshot(session: WebDriver, name: str) -> Path:
    """A PNG of the whole page under docs/screenshots (kept in the repository from the last run)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = session.execute_script("return document.documentElement.scrollHeight")
    session.set_window_size(1280, max(600, min(int(height) + 40, 2400)))
    session.save_screenshot(str(path))
    session.set_window_size(1280, 900)
    return path
