"""Browser fixtures of the demo storefront: kassa with the three adapters and ``/demo`` served
by uvicorn in a thread, and headless Chromium from Debian driven by Selenium.

Chromium and chromedriver are Debian's (``/usr/bin/chromium``, ``/usr/bin/chromedriver``;
``.ci/run`` installs them). Where they are missing the browser tests are skipped, unless
``KASSA_REQUIRE_BROWSER`` is set (``.ci/run``): then that is an error. Screenshots of each step
go to the run's temp dir (``demo-shots``); with ``KASSA_DOCS_SCREENSHOTS=DIR`` a half-size copy
goes to DIR too (docs/demo/).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from kassa.auth import keys
from kassa.config import Settings
from kassa.db.engine import Database
from kassa.demo.setup import CHANNEL, MERCHANT
from kassa.demo_command import ADAPTERS
from tests.support import browser as live

WAIT_S = 20.0  # upper bound for a page to show something; not a timing assertion


@pytest.fixture(scope="package")
def demo_server(settings: Settings) -> Iterator[str]:
    """The demo kassa on a free port (its own event loop and database handle); its base URL.
    Stopped when the package's tests end: its thread (delivery loop, push loop) must not run
    beside later tests (Hypothesis refuses a ``random`` module used during its strategies)."""
    served = replace(settings, builtin_adapters=ADAPTERS, run_delivery_in_api=True)
    with live.live_server(served) as server:
        yield server.url


class Browser(live.Browser):
    """The shared browser session with the few extra steps the storefront tests need."""

    count = 0

    def find(self, testid: str) -> WebElement:
        wait = WebDriverWait(self.driver, WAIT_S)
        locator = (By.CSS_SELECTOR, f'[data-testid="{testid}"]')
        element: WebElement = wait.until(expected_conditions.presence_of_element_located(locator))
        return element

    def text(self, testid: str) -> str:
        return str(self.find(testid).text).strip()

    def click_css(self, css: str) -> None:
        WebDriverWait(self.driver, WAIT_S).until(
            expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, css))
        ).click()

    def select(self, testid: str, value: str) -> None:
        from selenium.webdriver.support.select import Select

        Select(self.find(testid)).select_by_value(value)

    def shot(self, name: str) -> Path:
        """The page as ``NN-name.png`` in the run's screenshot dir (and half-size in
        ``KASSA_DOCS_SCREENSHOTS`` when set)."""
        self.count += 1
        path = self.shots / f"{self.count:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        docs = os.environ.get("KASSA_DOCS_SCREENSHOTS")
        if docs:
            size = self.driver.execute_script(
                "return [document.documentElement.clientWidth,"
                " Math.min(document.documentElement.scrollHeight, 1400)]"
            )
            clip = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 0.5}
            shot = self.driver.execute_cdp_cmd(
                "Page.captureScreenshot",
                {"format": "png", "clip": clip, "captureBeyondViewport": True},
            )
            Path(docs, f"{name}.png").write_bytes(base64.b64decode(shot["data"]))
        return path


@pytest.fixture(scope="session")
async def demo_key(db: Database) -> str:
    """An API key of the demo merchant and channel, for the API half of the tests."""
    key, _ = await keys.create_key(db, merchant=MERCHANT, channels=[CHANNEL])
    return key


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-shots")


@pytest.fixture
def browser(demo_server: str, shots: Path, request: pytest.FixtureRequest) -> Iterator[Browser]:
    """A fresh browser (no cookies: an empty cart) per test; its screenshots in a folder
    named after the test."""
    reason = live.browser_missing()
    if reason is not None:
        pytest.skip(reason)
    folder = shots / request.node.name
    folder.mkdir(exist_ok=True)
    with live.chromium(demo_server, folder, width=1100) as session:
        yield Browser(session.driver, demo_server, folder)
