"""The console over HTTP: sign-in, sessions, CSRF, throttling, scoping, roles, escaping,
payment actions through the unit of work, and delivery retries."""

from __future__ import annotations

import dataclasses
import re
import secrets
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from kassa.app import create_app
from kassa.config import Settings
from kassa.console.accounts import Role
from kassa.db.engine import Database
from kassa.db.tables import events
from tests.conftest import ORDERS, Tenant, client_for, create_order, make_tenant
from tests.support.console import (
    CONSOLE,
    Login,
    form_action,
    form_fields,
    login_response,
    make_operator,
    sign_in,
)
from tests.support.payments import add_payment
from tests.support.receiver import Receiver

XSS = "<script>alert('x')</script>"


async def paid_order(client: httpx.AsyncClient, email: str = "ann@example.com") -> tuple[str, str]:
    body: dict[str, Any] = {
        "currency": "SEK",
        "reference": "ref-1",
        "cart": {"items": [{"name": XSS, "quantity": 1}]},
        "customer": {"billing": {"email": email, "givenName": "Ann"}},
    }
    order_id = await create_order(client, body)
    payment_id = await add_payment(client, order_id, {"amount": 100, "currency": "SEK"})
    return order_id, payment_id


async def test_pages_need_a_session(browser: httpx.AsyncClient) -> None:
    response = await browser.get(f"{CONSOLE}/orders?status=pending")
    assert response.status_code == 303
    assert (
        response.headers["location"]
        == f"{CONSOLE}/login?next=%2Fconsole%2Forders%3Fstatus%3Dpending"
    )


async def test_sign_in_sets_a_strict_cookie_and_security_headers(
    browser: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    login = await make_operator(db, tenant.merchant)
    response = await login_response(browser, login)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "kassa_console=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie
    page = await browser.get(f"{CONSOLE}/orders")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe" not in csp
    assert page.headers["x-frame-options"] == "DENY"


async def test_secure_cookie_setting(settings: Settings, db: Database, tenant: Tenant) -> None:
    app = create_app(dataclasses.replace(settings, console_secure_cookie=True), db=db)
    login = await make_operator(db, tenant.merchant)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://kassa.test") as client:
        response = await login_response(client, login)
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


def _from(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://kassa.test")


def _address() -> str:
    return "10.9." + ".".join(str(b) for b in secrets.token_bytes(2))


async def test_wrong_password_then_throttled_per_account(
    app: FastAPI, db: Database, tenant: Tenant
) -> None:
    login = await make_operator(db, tenant.merchant)
    for _ in range(5):
        async with _from(app, _address()) as client:  # another address each time
            response = await login_response(client, login, password="wrong password!!")
        assert response.status_code == 401
        assert "Wrong name or password." in response.text
    # the right password is refused too while the account is throttled
    async with _from(app, _address()) as client:
        response = await login_response(client, login)
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.text


async def test_throttled_per_address(app: FastAPI, db: Database, tenant: Tenant) -> None:
    address = _address()
    async with _from(app, address) as client:
        for _ in range(5):
            guess = await make_operator(db, tenant.merchant)  # another account each time
            response = await login_response(client, guess, password="wrong password!!")
            assert response.status_code == 401
        login = await make_operator(db, tenant.merchant)
        assert (await login_response(client, login)).status_code == 429
    async with _from(app, _address()) as client:  # the same account from elsewhere
        assert (await login_response(client, login)).status_code == 303


async def test_disabled_operator_cannot_sign_in(app: FastAPI, db: Database, tenant: Tenant) -> None:
    from kassa.console import accounts

    login = await make_operator(db, tenant.merchant)
    async with _from(app, _address()) as browser:
        await sign_in(browser, login)
        assert await accounts.disable_operator(db, login.name)
        assert (await browser.get(f"{CONSOLE}/orders")).status_code == 303  # session ended
        response = await login_response(browser, login)
    assert response.status_code == 401


async def test_login_form_needs_its_csrf_token(
    browser: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    login = await make_operator(db, tenant.merchant)
    await browser.get(f"{CONSOLE}/login")
    response = await browser.post(
        f"{CONSOLE}/login", data={"name": login.name, "password": login.password}
    )
    assert response.status_code == 403
    assert "csrf-failed" in response.text


async def test_inactive_session_expires(settings: Settings, db: Database, tenant: Tenant) -> None:
    import asyncio

    app = create_app(dataclasses.replace(settings, console_session_idle=0.3), db=db)
    login = await make_operator(db, tenant.merchant)
    async with client_for(app) as client:
        await sign_in(client, login)
        assert (await client.get(f"{CONSOLE}/orders")).status_code == 200
        await asyncio.sleep(0.5)
        assert (await client.get(f"{CONSOLE}/orders")).status_code == 303


async def test_logout_ends_the_session(
    browser: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    login = await make_operator(db, tenant.merchant)
    await sign_in(browser, login)
    page = await browser.get(f"{CONSOLE}/orders")
    cookie = browser.cookies["kassa_console"]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    response = await browser.post(f"{CONSOLE}/logout", data={"csrf": csrf.group(1)})
    assert response.status_code == 303
    # the old cookie no longer works, even if a client kept it
    browser.cookies.set("kassa_console", cookie, path="/console")
    assert (await browser.get(f"{CONSOLE}/orders")).status_code == 303


async def test_find_by_email_and_escape_the_cart(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    order_id, _ = await paid_order(client, email="find.me@example.com")
    await create_order(client, {"customer": {"billing": {"email": "other@example.com"}}})
    login = await make_operator(db, tenant.merchant, Role.viewer)
    await sign_in(browser, login)
    page = await browser.get(f"{CONSOLE}/orders", params={"q": "find.me@example.com"})
    assert page.status_code == 200
    assert '<span data-testid="orders-total">1</span>' in page.text
    assert order_id in page.text
    everything = await browser.get(f"{CONSOLE}/orders")
    assert '<span data-testid="orders-total">2</span>' in everything.text
    in_sek = await browser.get(f"{CONSOLE}/orders", params={"currency": "sek"})
    assert '<span data-testid="orders-total">1</span>' in in_sek.text
    assert order_id in in_sek.text
    paged = await browser.get(f"{CONSOLE}/orders", params={"page": "2"})
    assert 'data-testid="orders-empty"' in paged.text
    checkout = await browser.get(f"{CONSOLE}/orders", params={"status": "checkout", "q": "ref-1"})
    assert '<span data-testid="orders-total">1</span>' in checkout.text
    order = await browser.get(f"{CONSOLE}/orders/{order_id}")
    assert order.status_code == 200
    assert XSS not in order.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in order.text


async def test_another_merchants_order_is_404(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    order_id, _ = await paid_order(client)
    other = await make_tenant(db)
    login = await make_operator(db, other.merchant, Role.admin)
    await sign_in(browser, login)
    response = await browser.get(f"{CONSOLE}/orders/{order_id}")
    assert response.status_code == 404
    assert "order-not-found" in response.text
    listed = await browser.get(f"{CONSOLE}/orders")
    assert order_id not in listed.text


async def test_channel_scoped_operator(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    order_id, _ = await paid_order(client)
    login = await make_operator(db, tenant.merchant, channels=["elsewhere"])
    await sign_in(browser, login)
    assert (await browser.get(f"{CONSOLE}/orders/{order_id}")).status_code == 404
    listed = await browser.get(f"{CONSOLE}/orders")
    assert '<span data-testid="orders-total">0</span>' in listed.text


async def test_viewer_sees_no_action_and_is_refused(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    order_id, payment_id = await paid_order(client)
    viewer = await make_operator(db, tenant.merchant, Role.viewer)
    await sign_in(browser, viewer)
    page = await browser.get(f"{CONSOLE}/orders/{order_id}")
    assert 'data-testid="capture-form"' not in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    response = await browser.post(
        f"{CONSOLE}/orders/{order_id}/payments/{payment_id}/transactions",
        data={
            "csrf": csrf.group(1),
            "event": "capture",
            "amount": "10",
            "etag": '"2"',
            "idempotency_key": "k-viewer",
        },
    )
    assert response.status_code == 403
    transactions = await client.get(f"{ORDERS}/{order_id}/payments/{payment_id}/transactions")
    assert transactions.json() == []


async def _capture_form(
    browser: httpx.AsyncClient, order_id: str, event: str
) -> tuple[str, dict[str, str]]:
    page = await browser.get(f"{CONSOLE}/orders/{order_id}")
    assert page.status_code == 200
    return form_action(page.text, f"{event}-form"), form_fields(page.text, f"{event}-form")


async def test_capture_refund_once_with_operator_as_actor(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    order_id, payment_id = await paid_order(client)
    login = await make_operator(db, tenant.merchant)
    await sign_in(browser, login)

    action, fields = await _capture_form(browser, order_id, "capture")
    first = await browser.post(action, data={**fields, "amount": "40"})
    assert first.status_code == 303
    assert first.headers["location"].endswith("?done=capture")
    again = await browser.post(action, data={**fields, "amount": "40"})  # a double submit
    assert again.status_code == 303
    assert again.headers["location"].endswith("?done=replayed")

    action, fields = await _capture_form(browser, order_id, "refund")
    assert (await browser.post(action, data={**fields, "amount": "15.5"})).status_code == 303

    transactions = (
        await client.get(f"{ORDERS}/{order_id}/payments/{payment_id}/transactions")
    ).json()
    assert [(t["event"], t["amount"]) for t in transactions] == [("capture", 40), ("refund", 15.5)]
    history = (await client.get(f"{ORDERS}/{order_id}/history")).json()
    entries = history if isinstance(history, list) else history["data"]
    last = entries[-1]
    assert last["actor"] == {"keyName": f"operator:{login.name}", "adapterId": None}
    assert last["operation"] == "AddTransactionForOrderPayment"

    page = await browser.get(f"{CONSOLE}/orders/{order_id}")
    assert '<td data-testid="payment-captured">40 SEK</td>' in page.text
    assert '<td data-testid="payment-refunded">15.5 SEK</td>' in page.text
    assert page.text.count('data-testid="ledger-row"') == 2


async def test_stale_page_is_412_and_executes_nothing(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    order_id, payment_id = await paid_order(client)
    login = await make_operator(db, tenant.merchant)
    await sign_in(browser, login)
    action, fields = await _capture_form(browser, order_id, "capture")
    changed = await client.put(f"{ORDERS}/{order_id}/reference", json="changed")
    assert changed.status_code == 200
    response = await browser.post(action, data={**fields, "amount": "10"})
    assert response.status_code == 412
    assert "The order changed since this page was loaded" in response.text
    transactions = await client.get(f"{ORDERS}/{order_id}/payments/{payment_id}/transactions")
    assert transactions.json() == []


async def test_capture_beyond_the_amount_is_refused(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    order_id, _ = await paid_order(client)
    login = await make_operator(db, tenant.merchant)
    await sign_in(browser, login)
    action, fields = await _capture_form(browser, order_id, "capture")
    response = await browser.post(action, data={**fields, "amount": "100.01"})
    assert response.status_code == 409
    assert "amount-exceeds-reserved" in response.text


async def test_post_without_csrf_is_refused(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    order_id, payment_id = await paid_order(client)
    login = await make_operator(db, tenant.merchant)
    await sign_in(browser, login)
    action, fields = await _capture_form(browser, order_id, "capture")
    del fields["csrf"]
    response = await browser.post(action, data={**fields, "amount": "10"})
    assert response.status_code == 403
    assert "CSRF" in response.text
    transactions = await client.get(f"{ORDERS}/{order_id}/payments/{payment_id}/transactions")
    assert transactions.json() == []


async def test_retry_a_failed_delivery(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    notification = {"scope": "/reference", "invoke": "http://127.0.0.1:9/hook"}
    order_id = await create_order(client, {"notifications": [notification]})
    assert (await client.put(f"{ORDERS}/{order_id}/reference", json="r1")).status_code == 200
    listed = (await client.get("/api/v1/events", params={"order_id": order_id})).json()["data"]
    [event] = listed
    failed = (
        update(events)
        .where(events.c.id == event["id"])
        .values(status="failed", next_attempt_ms=None, terminal_ms=1)
    )
    await db.write(lambda conn: conn.execute(failed))

    login = await make_operator(db, tenant.merchant)
    await sign_in(browser, login)
    page = await browser.get(f"{CONSOLE}/deliveries", params={"status": "failed"})
    assert event["id"] in page.text
    detail = await browser.get(f"{CONSOLE}/deliveries/{event['id']}")
    fields = form_fields(detail.text, "retry-form")
    response = await browser.post(f"{CONSOLE}/deliveries/{event['id']}/retry", data=fields)
    assert response.status_code == 303
    after = (await client.get(f"/api/v1/events/{event['id']}")).json()
    assert after["status"] == "pending"


async def test_configuration_is_for_admins(
    browser: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    login = await make_operator(db, tenant.merchant, Role.operator)
    await sign_in(browser, login)
    assert (await browser.get(f"{CONSOLE}/configuration")).status_code == 403


async def test_admin_creates_and_revokes_a_key(
    browser: httpx.AsyncClient, db: Database, tenant: Tenant, app: FastAPI
) -> None:
    login = await make_operator(db, tenant.merchant, Role.admin)
    await sign_in(browser, login)
    page = await browser.get(f"{CONSOLE}/configuration")
    assert page.status_code == 200
    fields = form_fields(page.text, "create-key-form")
    created = await browser.post(
        f"{CONSOLE}/configuration/keys", data={**fields, "name": f"{tenant.merchant}-console"}
    )
    assert created.status_code == 200
    key = re.search(r'data-testid="created-secret">([^<]+)<', created.text)
    assert key
    headers = {
        "Authorization": f"Bearer {key.group(1)}",
        "x-merchant": tenant.merchant,
        "x-channel": "c1",
    }
    async with client_for(app, headers) as api:
        assert (await api.get(ORDERS)).status_code == 200
        page = await browser.get(f"{CONSOLE}/configuration")
        revoke = f"{CONSOLE}/configuration/keys/{tenant.merchant}-console/revoke"
        response = await browser.post(revoke, data={"csrf": fields["csrf"]})
        assert response.status_code == 303
        assert (await api.get(ORDERS)).status_code == 401


async def test_attention_and_dashboard(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    from sqlalchemy import update as sql_update

    from kassa.db.tables import orders

    order_id, payment_id = await paid_order(client)
    reserved = {"amount": 100, "currency": "SEK", "state": "reserved"}
    response = await client.put(f"{ORDERS}/{order_id}/payments/{payment_id}", json=reserved)
    assert response.status_code == 200, response.text
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "processing"})
    assert response.status_code == 200, response.text
    # an order last changed long ago (the document's lastModified, and created for the index)
    old = "2020-01-01T00:00:00.000Z"
    text = (await client.get(f"{ORDERS}/{order_id}")).text
    doc = re.sub(r'"lastModified":"[^"]+"', f'"lastModified":"{old}"', text, count=1)
    aged = sql_update(orders).where(orders.c.id == order_id).values(doc=doc, created=old)
    await db.write(lambda conn: conn.execute(aged))

    login = await make_operator(db, tenant.merchant, Role.viewer)
    await sign_in(browser, login)
    page = await browser.get(f"{CONSOLE}/attention")
    assert page.status_code == 200
    assert page.text.count('data-testid="attention-processing-row"') == 1
    assert page.text.count('data-testid="attention-reserved-row"') == 1
    assert payment_id in page.text
    assert order_id in page.text
    dashboard = await browser.get(f"{CONSOLE}/dashboard")
    assert dashboard.status_code == 200
    assert 'src="/console/static/vendor/chart.umd.min.js"' in dashboard.text
    assert 'id="dashboard-data"' in dashboard.text
    asset = await browser.get(f"{CONSOLE}/static/vendor/chart.umd.min.js")
    assert asset.status_code == 200
    assert asset.text.startswith("/*!\n * Chart.js v4.6.1")


def test_every_testid_is_documented() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    templates = (root / "src/kassa/console/templates").glob("*.html")
    used = set()
    for template in templates:
        for testid in re.findall(r'data-testid="([^"]+)"', template.read_text()):
            used.add(
                testid.replace("{{ a.type }}", "{type}")
                .replace("{{ event }}", "{event}")
                .replace("{{ side }}-", "")
            )
    documented = (root / "docs/console.md").read_text()
    expanded = {t for t in used if "{{" not in t}
    expanded |= {"customer-billing", "customer-shipping"}
    expanded |= {
        t.replace("{event}", e) for t in used if "{event}" in t for e in ("capture", "refund")
    }
    missing = sorted(t for t in expanded if "{event}" not in t and f"`{t}`" not in documented)
    assert missing == []


async def test_admin_edits_a_configuration_checked_against_its_schema(
    browser: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    import json

    login = await make_operator(db, tenant.merchant, Role.admin)
    await sign_in(browser, login)
    page = await browser.get(f"{CONSOLE}/configuration", params={"channel": "c1"})
    fields = form_fields(page.text, "config-new-form")
    schema = "https://checkout.playground.norce.tech/api/v1/configuration/schemas/nonpsp.json"
    invalid = {"$schema": schema, "id": "nonpsp_adapter", "active": "yes"}
    refused = await browser.post(
        f"{CONSOLE}/configuration/configurations", data={**fields, "json": json.dumps(invalid)}
    )
    assert refused.status_code == 400
    assert "invalid-configuration" in refused.text
    valid = {**invalid, "active": True, "methods": [{"identifier": "invoice"}]}
    saved = await browser.post(
        f"{CONSOLE}/configuration/configurations", data={**fields, "json": json.dumps(valid)}
    )
    assert saved.status_code == 303, saved.text
    page = await browser.get(f"{CONSOLE}/configuration", params={"channel": "c1"})
    assert page.text.count('data-testid="config-form"') == 1
    assert "nonpsp_adapter" in page.text


async def test_execute_a_registered_action_once(
    settings: Settings, db: Database, tenant: Tenant, receiver: Receiver
) -> None:
    app = create_app(dataclasses.replace(settings, outbound_allow="127.0.0.1/32"), db=db)
    receiver.body = b'{"captured": true}'
    try:
        async with client_for(app, tenant.headers) as api, client_for(app) as browser:
            order_id = await create_order(api, {"currency": "SEK"})
            action = {"adapterId": "psp", "type": "capture", "url": receiver.base + "/c/{order_id}"}
            payment = {"amount": 100, "currency": "SEK", "actions": [action]}
            payment_id = await add_payment(api, order_id, payment)
            login = await make_operator(db, tenant.merchant)
            await sign_in(browser, login)
            page = await browser.get(f"{CONSOLE}/orders/{order_id}")
            url, fields = (
                form_action(page.text, "action-form"),
                form_fields(page.text, "action-form"),
            )
            assert (
                (await browser.post(url, data=fields)).headers["location"].endswith("done=action")
            )
            assert (
                (await browser.post(url, data=fields)).headers["location"].endswith("done=replayed")
            )
            assert [r.target for r in receiver.requests] == [f"/c/{order_id}"]
            ledger = await api.get(f"{ORDERS}/{order_id}/payments/{payment_id}/transactions")
            [row] = ledger.json()
            assert row["event"] == "paymentAction" and row["isSuccess"] is True
            assert row["responseJson"] == '{"captured": true}'
            page = await browser.get(f"{CONSOLE}/orders/{order_id}")
            assert "&#34;captured&#34;: true" in page.text or "{&#34;captured" in page.text
    finally:
        if app.state.kassa.outbound is not None:
            await app.state.kassa.outbound.aclose()


async def test_admin_manages_operators(
    browser: httpx.AsyncClient, db: Database, tenant: Tenant, app: FastAPI
) -> None:
    admin = await make_operator(db, tenant.merchant, Role.admin)
    other = await make_operator(db, (await make_tenant(db)).merchant, Role.viewer)
    await sign_in(browser, admin)
    page = await browser.get(f"{CONSOLE}/configuration")
    fields = form_fields(page.text, "create-operator-form")
    name = f"new-{secrets.token_hex(4)}"
    created = await browser.post(
        f"{CONSOLE}/configuration/operators", data={**fields, "name": name, "role": "operator"}
    )
    assert created.status_code == 200
    password = re.search(r'data-testid="created-secret">([^<]+)<', created.text)
    assert password
    async with client_for(app) as newcomer:
        await sign_in(newcomer, Login(name, tenant.merchant, password.group(1)))
        reset = await browser.post(
            f"{CONSOLE}/configuration/operators/{name}/reset-password", data=fields
        )
        assert reset.status_code == 200
        assert (await newcomer.get(f"{CONSOLE}/orders")).status_code == 303  # signed out
    # another merchant's operator is out of reach
    refused = await browser.post(
        f"{CONSOLE}/configuration/operators/{other.name}/disable", data=fields
    )
    assert refused.status_code == 403
    assert (
        await browser.post(f"{CONSOLE}/configuration/operators/{name}/disable", data=fields)
    ).status_code == 303
