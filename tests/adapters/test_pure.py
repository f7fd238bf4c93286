"""The pure parts of the adapter framework and the Non-PSP adapter, without a database."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassa import adapter_host
from kassa.adapters import nonpsp, signatures
from kassa.adapters.client import Caller, Upstream
from kassa.adapters.converge import OrderSession, converge
from kassa.adapters.errors import OrderApiError
from kassa.adapters.remainder import remainder
from kassa.delivery.outbound import Loopback, URLRefused
from kassa.errors import ConcurrentModification
from tests.adapters.support import SECRET, signed_headers


def order(total: str, *payments: dict[str, Any], currency: str = "SEK") -> dict[str, Any]:
    return {
        "currency": currency,
        "total": {"includingVat": Decimal(total)},
        "payments": list(payments),
        "state": {"currentStatus": "checkout"},
    }


def payment(pid: str, amount: str, type_: str = "default", state: str = "intent") -> dict[str, Any]:
    return {"id": pid, "adapterId": "x", "type": type_, "state": state, "amount": Decimal(amount)}


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (order("32.5"), Decimal("32.5")),
        (order("32.5", payment("v", "5", "voucher")), Decimal("27.5")),
        (order("32.5", payment("v", "5", "voucher", "removed")), Decimal("32.5")),
        # a second default payment does not reduce it
        (order("32.5", payment("d", "10")), Decimal("32.5")),
        (order("10", payment("v", "15", "prepaid")), Decimal(0)),
        (order("10.005"), Decimal("10.01")),  # half-up to the minor unit
        (order("10.0049"), Decimal("10")),
        (order("100.5", currency="JPY"), Decimal("101")),
        (order("1.0005", currency="KWD"), Decimal("1.001")),
    ],
)
def test_remainder(doc: dict[str, Any], expected: Decimal) -> None:
    assert remainder(doc, "me") == expected


@given(
    st.decimals(min_value=0, max_value=10**9, places=6),
    st.lists(st.decimals(min_value=0, max_value=10**6, places=2), max_size=5),
)
def test_remainder_is_never_negative_and_fits_the_minor_unit(
    total: Decimal, parts: list[Decimal]
) -> None:
    doc = order(str(total), *(payment(f"v{i}", str(p), "voucher") for i, p in enumerate(parts)))
    value = remainder(doc)
    assert value >= 0
    assert value == value.quantize(Decimal("0.01"))
    assert abs(value - max(Decimal(0), total - sum(parts, Decimal(0)))) <= Decimal("0.005")


def test_update_payment_patch() -> None:
    doc = order("32.5", payment("v", "5", "voucher"), payment("me", "20"))
    assert nonpsp.update_payment(doc, "me") == [
        {"op": "replace", "path": "/payments/1/amount", "value": Decimal("27.5")}
    ]
    doc["payments"][1]["amount"] = Decimal("27.50")
    assert nonpsp.update_payment(doc, "me") == []
    for state in ("confirmed", "removed", "cancelled"):
        doc["payments"][1]["state"] = state
        assert nonpsp.update_payment(doc, "me") == []
    assert nonpsp.update_payment(doc, "unknown") == []


@pytest.mark.parametrize(
    ("status", "state", "patched"),
    [
        ("accepted", "intent", "confirmed"),
        ("completed", "processing", "confirmed"),
        ("completed", "confirmed", None),
        ("declined", "intent", "cancelled"),
        ("removed", "confirmed", "cancelled"),
        ("removed", "removed", None),
        ("processing", "intent", None),
    ],
)
def test_state_changed_patch(status: str, state: str, patched: str | None) -> None:
    doc = order("10", payment("me", "10", state=state))
    doc["state"]["currentStatus"] = status
    expected = (
        []
        if patched is None
        else [{"op": "replace", "path": "/payments/0/state", "value": patched}]
    )
    assert nonpsp.state_changed(doc, "me") == expected


def test_view_falls_back_to_the_preselected_method() -> None:
    config = {"methods": [{"identifier": "a"}, {"identifier": "b", "preSelected": True}]}
    mine = {"id": "p", "state": "intent", "amount": 1, "currency": "SEK", "attributes": {}}
    assert nonpsp.view(mine, config)["selectedPaymentMethod"] == "b"
    mine["attributes"] = {"nonpsp_adapter": {"selectedPaymentMethod": "a"}}
    assert nonpsp.view(mine, config)["selectedPaymentMethod"] == "a"
    assert nonpsp.view(mine, None)["paymentMethods"] == []
    assert "selectedPaymentMethod" not in nonpsp.view({"id": "p"}, {"methods": []})


def test_signatures() -> None:
    body = b'{"id": "o_x"}'
    headers = signed_headers("m", "c", body)
    args = (headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"])
    now = time.time()
    assert signatures.verify([SECRET], *args, body, now)
    assert signatures.verify(["whsec_b3RoZXI=", SECRET], *args, body, now)  # rotation
    assert not signatures.verify(["whsec_b3RoZXI="], *args, body, now)
    assert not signatures.verify([SECRET], *args, body + b" ", now)
    assert not signatures.verify([SECRET], *args, body, now + 301)
    assert signatures.verify([SECRET], *args, body, now + 299)
    assert not signatures.verify([SECRET], None, *args[1:], body, now)
    assert not signatures.verify([SECRET], args[0], "soon", args[2], body, now)


def test_builtin_key_is_derived() -> None:
    key = adapter_host.builtin_key("secret", "nonpsp_adapter")
    assert key == adapter_host.builtin_key("secret", "nonpsp_adapter")
    assert key != adapter_host.builtin_key("other", "nonpsp_adapter")
    assert key != adapter_host.builtin_key("secret", "kassa_sandbox_psp_adapter")
    assert "=" not in key and len(key) == 43


# conditional writes against a scripted Order API ------------------------------------------------


def upstream(handler: Any) -> Upstream:
    async def key() -> str:
        return "k"

    return Upstream(
        adapter_id="a",
        key=key,
        client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        order_base="http://kassa",
        configuration_base="http://kassa",
        timeout=1,
    )


def session(handler: Any) -> OrderSession:
    return OrderSession(upstream(handler), Caller("m", "c", "rid"), "o_1", {}, '"1"')


async def test_converge_gives_up_after_three_conflicts_on_the_same_step() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.headers.get('if-match')}")
        if request.method == "GET":
            return httpx.Response(200, json={"id": "o_1"}, headers={"etag": '"9"'})
        return httpx.Response(412, json={"code": "precondition-failed"})

    async def plan(s: OrderSession) -> None:
        await s.write("PUT", "/reference", "x")

    with pytest.raises(ConcurrentModification):
        await converge(session(handler), plan)
    # the write, then three re-reads and re-plans, then 409
    assert seen == ['PUT "1"', *(["GET None", 'PUT "9"'] * 3)]


async def test_converge_keeps_going_while_another_writer_does_the_steps() -> None:
    done: set[str] = set()
    version = 1

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal version
        if request.method == "GET":
            return httpx.Response(
                200, json={"done": sorted(done)}, headers={"etag": f'"{version}"'}
            )
        # a competitor always does the step just before us
        done.add(request.url.path)
        version += 1
        return httpx.Response(412, json={"code": "precondition-failed"})

    async def plan(s: OrderSession) -> list[str]:
        for step in ("a", "b", "c", "d", "e"):
            if f"/api/v0/checkout/orders/o_1/{step}" not in s.order.get("done", []):
                await s.write("POST", f"/{step}", {})
        return list(s.order["done"])

    assert len(await converge(session(handler), plan)) == 5


async def test_upstream_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/down"):
            raise httpx.ConnectError("refused")
        return httpx.Response(409, json={"code": "order-not-editable", "state": "completed"})

    up = upstream(handler)
    caller = Caller("m", "c", "rid")
    reply = await up.send(caller, "GET", "http://kassa/x")
    passed = reply.error({"order-not-editable"})
    assert (passed.status, passed.code, passed.extra) == (
        409,
        "order-not-editable",
        {"state": "completed"},
    )
    other = reply.error()
    assert isinstance(other, OrderApiError)
    assert other.extra == {"upstreamStatus": 409, "upstreamCode": "order-not-editable"}
    with pytest.raises(OrderApiError) as caught:
        await up.send(caller, "GET", "http://kassa/down")
    assert caught.value.extra == {"upstreamStatus": None, "upstreamCode": None}


def test_loopback_resolves_mounted_prefixes_only() -> None:
    async def unused(scope: object, receive: object, send: object) -> None:
        raise AssertionError("resolving calls nothing")

    plain = Loopback("http://kassa.internal", ("/a", "/b/c"), unused)
    assert plain.resolve("https://kassa.internal/a/x") is None  # another scheme: another origin
    assert plain.resolve("http://kassa.internal:8080/a/x") is None
    assert plain.resolve("http://KASSA.internal/a/x?q=1") == "http://KASSA.internal/a/x?q=1"
    assert plain.resolve("http://kassa.internal:80/b/c") == "http://kassa.internal:80/b/c"
    for refused in (
        "http://kassa.internal/ab",
        "http://kassa.internal/",
        "http://kassa.internal/b",
    ):
        with pytest.raises(URLRefused):
            plain.resolve(refused)
    based = Loopback("http://gw.internal/base/", ("/a",), unused)
    assert based.resolve("http://gw.internal/base/a/x") == "http://gw.internal/a/x"
    with pytest.raises(URLRefused):
        based.resolve("http://gw.internal/a/x")
