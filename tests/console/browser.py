"""Headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by Selenium, nothing downloaded.

`Browser` wraps one WebDriver session: `visit` loads a console page, keeps its HTML (the secrecy test reads
them all) and saves a screenshot as a test artefact, in ``var/artefacts/console/`` (or $SIGCORE_ARTEFACTS).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1000")
ARTEFACTS = Path(os.environ.get("SIGCORE_ARTEFACTS", Path(__file__).parents[2] / "var" / "artefacts")) / "console"


def chromium_available() -> bool:
    return all(shutil.which(p) for p in (CHROMIUM, CHROMEDRIVER))


class Browser:
    def __init__(self, base_url: str, profile_dir: Path) -> None:
        if not chromium_available():
            pytest.skip("chromium or chromium-driver not installed (apt-get install chromium chromium-driver)")
        os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never download a driver or browser
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service

        options = Options()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile_dir}")
        self.driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(30)
        self.base_url = base_url
        self.pages: dict[str, str] = {}
        ARTEFACTS.mkdir(parents=True, exist_ok=True)

    def quit(self) -> None:
        self.driver.quit()

    def visit(self, path: str, shot: str | None = None) -> None:
        self.driver.get(self.base_url + path)
        if shot:
            self.snap(shot)

    def snap(self, name: str) -> None:
        """Keep the page's HTML and a screenshot (a full-height one, so the artefact shows the whole page)."""
        self.pages[name] = self.driver.page_source
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        width = self.driver.get_window_size()["width"]
        self.driver.set_window_size(width, max(600, min(int(height) + 140, 4000)))
        self.driver.save_screenshot(str(ARTEFACTS / f"{name}.png"))

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def fill(self, fields: dict[str, str]) -> None:
        for name, value in fields.items():
            element = self.find(f'[name="{name}"]')
            element.clear()
            element.send_keys(value)

    def wait(self, condition: Callable[[], Any], timeout: float = 15.0) -> Any:
        """``condition()``'s first true value. An element found stale (the page re-rendered it between the
        lookup and the read: live.js refreshes the peers table every few seconds) is a try again."""
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                             ignored_exceptions=(StaleElementReferenceException,)).until(lambda _driver: condition())

    def text(self, css: str) -> str:
        return str(self.find(css).text)

    def login(self, token: str) -> None:
        self.driver.delete_all_cookies()
        self.visit("/console/login")
        self.fill({"token": token})
        self.find('form[action$="/login"] button[type="submit"]').click()
        self.wait(lambda: "/console/subscribers" in self.driver.current_url)
