"""Real-browser fixtures: a live ``kassa`` server in a thread and headless Chromium from Debian
driven by Selenium. Reusable by every page of kassa (the console, the demo storefront).

Chromium and chromedriver are Debian's (``/usr/bin/chromium``, ``/usr/bin/chromedriver``;
``.ci/run`` installs them). Where they are missing the browser tests are skipped, with the reason.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from kassa.app import create_app
from kassa.config import Settings

CHROMIUM = os.environ.get("KASSA_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("KASSA_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
WAIT_S = 15.0  # upper bound for a page to show something; not a timing assertion


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or ``None``. With ``KASSA_REQUIRE_BROWSER`` set
    (``.ci/run``) a missing browser is an error, not a reason to skip."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(path) or shutil.which(path)):
            reason = f"{path} not found (Debian packages chromium, chromium-driver)"
            if os.environ.get("KASSA_REQUIRE_BROWSER"):
                raise RuntimeError(reason + " and KASSA_REQUIRE_BROWSER is set")
            return reason
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    settings: Settings


@contextlib.contextmanager
def live_server(settings: Settings) -> Iterator[LiveServer]:
    """``kassa``'s application served by uvicorn in a thread (its own event loop and
    database handle) on a free port, until the block ends."""
    port = free_port()
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="kassa-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings)
    finally:
        server.should_exit = True
        thread.join(timeout=WAIT_S)


class Browser:
    """A headless Chromium session with the few steps page tests need."""

    def __init__(self, driver: webdriver.Chrome, base: str, shots: Path) -> None:
        self.driver = driver
        self.base = base
        self.shots = shots

    def get(self, path: str) -> None:
        self.driver.get(self.base + path)

    def by_testid(self, testid: str) -> WebElement:
        return self.wait_for(f'[data-testid="{testid}"]')

    def all_by_testid(self, testid: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def wait_for(self, css: str) -> WebElement:
        wait = WebDriverWait(self.driver, WAIT_S)
        element: WebElement = wait.until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css))
        )
        return element

    def wait_text(self, testid: str, text: str) -> None:
        wait = WebDriverWait(self.driver, WAIT_S)
        locator = (By.CSS_SELECTOR, f'[data-testid="{testid}"]')
        wait.until(expected_conditions.text_to_be_present_in_element(locator, text))

    def fill(self, testid: str, value: str) -> None:
        field = self.by_testid(testid)
        field.clear()
        field.send_keys(value)

    def click(self, testid: str) -> None:
        self.by_testid(testid).click()

    def screenshot(self, name: str) -> Path:
        """The viewport as ``NAME.png`` in the run's screenshot dir; with
        ``KASSA_DOCS_SCREENSHOTS=DIR`` also a copy at 60 % scale in DIR (docs/console/)."""
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        docs = os.environ.get("KASSA_DOCS_SCREENSHOTS")
        if docs:
            size = self.driver.execute_script(
                "return [document.documentElement.clientWidth, window.innerHeight,"
                " window.scrollX, window.scrollY]"
            )
            clip = {"x": size[2], "y": size[3], "width": size[0], "height": size[1], "scale": 0.6}
            shot = self.driver.execute_cdp_cmd(
                "Page.captureScreenshot", {"format": "png", "clip": clip}
            )
            Path(docs, f"{name}.png").write_bytes(base64.b64decode(shot["data"]))
        return path


@contextlib.contextmanager
def chromium(base: str, shots: Path, width: int = 1280, height: int = 900) -> Iterator[Browser]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield Browser(driver, base, shots)
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser tests save their screenshots (this run's temp dir)."""
    return tmp_path_factory.mktemp("screenshots")
