"""The console in headless Chromium against a live server: sign in, find an order by e-mail,
its timeline and ledger, a partial capture then a refund, a double submit that executes once,
a retried delivery, sign out; escaping, roles, scoping and CSRF as a browser meets them.
Screenshots of each page go to the run's temp dir (``screenshots`` fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.common.exceptions import NoAlertPresentException
from sqlalchemy import update

from kassa.config import Settings
from kassa.console.accounts import Role
from kassa.db.engine import Database
from kassa.db.tables import events
from tests.conftest import ORDERS, make_tenant
from tests.support.browser import (
    Browser,
    LiveServer,
    browser_missing,
    chromium,
    live_server,
)
from tests.support.browser import screenshots as screenshots
from tests.support.console import CONSOLE, Login, make_operator

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))

XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[LiveServer]:
    with live_server(settings) as live:
        yield live


async def _order(server: LiveServer, headers: dict[str, str], email: str) -> tuple[str, str]:
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as api:
        body: dict[str, Any] = {
            "currency": "SEK",
            "reference": "web-1",
            "cart": {"items": [{"name": XSS, "quantity": 2}]},
            "customer": {"billing": {"email": email, "givenName": "Ann", "familyName": "Lee"}},
            "notifications": [{"scope": "/reference", "invoke": "http://127.0.0.1:9/n"}],
        }
        created = await api.post(ORDERS, json=body)
        assert created.status_code == 201, created.text
        order_id: str = created.json()["id"]
        payment = await api.post(
            f"{ORDERS}/{order_id}/payments", json={"amount": 100, "currency": "SEK"}
        )
        assert payment.status_code == 201, payment.text
        renamed = await api.put(f"{ORDERS}/{order_id}/reference", json="web-2")
        assert renamed.status_code == 200
        return order_id, payment.json()["id"]


def sign_in(browser: Browser, login: Login) -> None:
    browser.get(f"{CONSOLE}/orders")
    browser.fill("login-name", login.name)
    browser.fill("login-password", login.password)
    browser.screenshot("login")
    browser.click("login-submit")
    browser.by_testid("orders-table")


def ledger_rows(browser: Browser) -> list[str]:
    return [row.text for row in browser.all_by_testid("ledger-row")]


def post_from_page(browser: Browser, action: str, fields: dict[str, str]) -> list[int]:
    """POST a form body from the page with fetch (twice at once when ``twice``)."""
    script = """
        const [action, fields, done] = arguments;
        fetch(action, {method: "POST", body: new URLSearchParams(fields), redirect: "manual"})
            .then((r) => done([r.status]), (e) => done([String(e)]));
    """
    statuses: list[int] = browser.driver.execute_async_script(script, action, fields)
    return statuses


async def test_operator_works_an_order_in_the_browser(
    server: LiveServer, db: Database, screenshots: Path
) -> None:
    tenant = await make_tenant(db, channel="web")
    order_id, _ = await _order(server, tenant.headers, "ann.lee@example.com")
    found = await db.read(
        lambda conn: conn.execute(
            events.select().where(events.c.order_id == order_id).order_by(events.c.sequence)
        ).all()
    )
    event_id = found[-1].id
    failed = (
        update(events)
        .where(events.c.id == event_id)
        .values(status="failed", next_attempt_ms=None, terminal_ms=1, attempt_count=1)
    )
    await db.write(lambda conn: conn.execute(failed))
    login = await make_operator(db, tenant.merchant, Role.operator)

    with chromium(server.url, screenshots) as browser:
        sign_in(browser, login)
        browser.fill("orders-search", "ann.lee@example.com")
        browser.click("orders-apply")
        browser.wait_text("orders-total", "1")
        browser.screenshot("orders")
        browser.click("order-link")
        browser.wait_text("order-id", order_id)
        browser.screenshot("order-summary")

        # the attacker-controlled item name is text, not markup
        assert browser.by_testid("cart-item-name").text == XSS
        with pytest.raises(NoAlertPresentException):
            browser.driver.switch_to.alert.text  # noqa: B018
        assert len(browser.all_by_testid("timeline-entry")) == 3  # create, payment, reference
        assert browser.all_by_testid("timeline-operation")[0].text == "UpdateCheckoutOrderReference"

        browser.fill("capture-amount", "40")
        browser.click("capture-submit")
        browser.wait_text("notice", "Capture recorded.")
        browser.wait_text("payment-captured", "40 SEK")
        browser.fill("refund-amount", "15.50")
        browser.click("refund-submit")
        browser.wait_text("notice", "Refund recorded.")
        assert browser.by_testid("payment-refunded").text == "15.50 SEK"
        assert browser.by_testid("payment-remaining").text == "24.50 SEK"
        assert len(ledger_rows(browser)) == 2
        actor = browser.all_by_testid("timeline-actor")[0].get_attribute("textContent")
        assert actor is not None and actor.strip() == f"operator:{login.name}"
        browser.all_by_testid("ledger-row")[0].find_element("css selector", "summary").click()
        browser.screenshot("order")
        entry = browser.all_by_testid("timeline-entry")[0]
        entry.find_element("css selector", "summary").click()
        browser.driver.execute_script("arguments[0].scrollIntoView()", entry)
        browser.screenshot("timeline")

        # a double submit: the same form (same Idempotency-Key) posted twice
        form = browser.by_testid("capture-form")
        action = form.get_attribute("action") or ""
        fields = {
            name: browser.driver.execute_script(
                "return arguments[0].elements[arguments[1]].value", form, name
            )
            for name in ("csrf", "etag", "idempotency_key", "event")
        }
        fields["amount"] = "10"
        first = post_from_page(browser, action, fields)
        second = post_from_page(browser, action, fields)
        assert first == [0] and second == [0]  # opaque redirects: both answered 303
        browser.get(f"{CONSOLE}/orders/{order_id}")
        assert len(ledger_rows(browser)) == 3
        assert browser.by_testid("payment-captured").text == "50 SEK"

        # a stale page (the form above carries the version before the last capture)
        fields["idempotency_key"] = "console-stale-" + order_id
        browser.driver.execute_script(
            """const [form, fields] = arguments;
               for (const [k, v] of Object.entries(fields)) form.elements[k].value = v;
               form.submit();""",
            browser.by_testid("capture-form"),
            fields,
        )
        browser.wait_text("error-message", "The order changed since this page was loaded (412)")
        browser.screenshot("stale")
        browser.get(f"{CONSOLE}/orders/{order_id}")
        assert len(ledger_rows(browser)) == 3

        browser.click("nav-deliveries")
        browser.by_testid("events-table")
        browser.screenshot("deliveries")
        browser.get(f"{CONSOLE}/deliveries/{event_id}")
        browser.wait_text("event-status", "failed")
        browser.click("retry")
        browser.wait_text("notice", "Delivery retry scheduled.")
        browser.screenshot("delivery")

        browser.click("nav-attention")
        browser.by_testid("attention-failed")
        browser.screenshot("attention")
        browser.click("nav-dashboard")
        browser.by_testid("chart-latency")
        browser.driver.execute_script("return 1")
        charts = browser.driver.execute_script(
            "return window.kassaCharts ? window.kassaCharts.length : 0"
        )
        assert charts == 4
        browser.screenshot("dashboard")

        browser.click("logout")
        browser.by_testid("login-form")
        browser.get(f"{CONSOLE}/orders")
        browser.by_testid("login-form")  # signed out: back to the sign-in page


async def test_viewer_scoping_and_csrf_in_the_browser(
    server: LiveServer, db: Database, screenshots: Path
) -> None:
    tenant = await make_tenant(db)
    order_id, payment_id = await _order(server, tenant.headers, "viewer@example.com")
    other = await make_tenant(db)
    other_order, _ = await _order(server, other.headers, "other@example.com")
    viewer = await make_operator(db, tenant.merchant, Role.viewer)
    admin = await make_operator(db, tenant.merchant, Role.admin)

    with chromium(server.url, screenshots) as browser:
        sign_in(browser, viewer)
        browser.get(f"{CONSOLE}/orders/{order_id}")
        browser.by_testid("ledger")
        assert browser.all_by_testid("capture-form") == []
        assert browser.all_by_testid("payment-actions") == []
        csrf = browser.driver.execute_script(
            "return document.querySelector('header form input[name=csrf]').value"
        )
        action = f"{CONSOLE}/orders/{order_id}/payments/{payment_id}/transactions"
        fields = {
            "csrf": csrf,
            "event": "capture",
            "amount": "1",
            "etag": '"3"',
            "idempotency_key": "console-viewer-" + order_id,
        }
        assert post_from_page(browser, action, fields) == [403]
        del fields["csrf"]
        assert post_from_page(browser, action, fields) == [403]

        browser.get(f"{CONSOLE}/orders/{other_order}")
        browser.wait_text("error-code", "order-not-found")
        status = browser.driver.execute_async_script(
            "const done = arguments[0];"
            f"fetch('{CONSOLE}/orders/{other_order}').then((r) => done(r.status));"
        )
        assert status == 404
        browser.screenshot("not-found")
        browser.click("logout")

        sign_in(browser, admin)
        browser.click("nav-configuration")
        browser.by_testid("api-keys")
        browser.screenshot("configuration")
        # a POST without the CSRF token is refused, whatever the role
        statuses = post_from_page(browser, f"{CONSOLE}/configuration/keys", {"name": "x"})
        assert statuses == [403]
