"""``GET /api/v0/checkout/orders`` (api §2.1 operation 2): every filter, sort key and the
pagination object (api §3.29-3.30)."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kassa.db.engine import Database
from tests.conftest import ORDERS, client_for, create_order, get_order, make_tenant

Params = dict[str, str] | list[tuple[str, str | int | float | bool | None]]


async def listing(client: httpx.AsyncClient, params: Params | None = None) -> dict[str, Any]:
    response = await client.get(ORDERS, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = json.loads(response.text, parse_float=Decimal)
    assert set(body) == {"data", "pagination"}
    assert body["pagination"]["size"] == len(body["data"])
    return body


async def ids(client: httpx.AsyncClient, params: Params | None = None) -> list[str]:
    return [order["id"] for order in (await listing(client, params))["data"]]


async def bad_query(client: httpx.AsyncClient, params: Params, name: str) -> None:
    response = await client.get(ORDERS, params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid-request"
    assert body["requestId"] == response.headers["x-request-id"]
    assert f"?{name}" in [e["path"] for e in body["errors"]], body


async def create_apart(client: httpx.AsyncClient, bodies: list[dict[str, Any]]) -> list[str]:
    """Create orders with strictly increasing ``created`` (millisecond precision)."""
    order_ids: list[str] = []
    for body in bodies:
        if order_ids:
            await asyncio.sleep(0.003)
        order_ids.append(await create_order(client, body))
    return order_ids


def billing(**address: str) -> dict[str, Any]:
    return {"customer": {"billing": address}}


def shipping(**address: str) -> dict[str, Any]:
    return {"customer": {"shipping": address}}


async def create_priced(client: httpx.AsyncClient, amount: str) -> str:
    """Create an order whose one item costs ``amount``, sent as exact JSON number text."""
    text = '{"cart": {"items": [{"total": {"includingVat": ' + amount + "}}]}}"
    response = await client.post(
        ORDERS, content=text.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    order_id: str = response.json()["id"]
    return order_id


# Pagination ----------------------------------------------------------------------------------


async def test_empty_list(client: httpx.AsyncClient) -> None:
    body = await listing(client)
    assert body == {
        "data": [],
        "pagination": {"offset": 0, "limit": 20, "size": 0, "totalSize": 0, "valueSum": 0},
    }


async def test_default_sort_and_exact_pagination(client: httpx.AsyncClient) -> None:
    first = await create_priced(client, "0.1")
    await asyncio.sleep(0.003)
    second = await create_priced(client, "0.2")
    await asyncio.sleep(0.003)
    third = await create_priced(client, "1.05")

    response = await client.get(ORDERS)
    assert response.status_code == 200
    body = json.loads(response.text, parse_float=Decimal)
    assert [o["id"] for o in body["data"]] == [third, second, first]
    assert body["pagination"] == {
        "offset": 0,
        "limit": 20,
        "size": 3,
        "totalSize": 3,
        "valueSum": Decimal("1.35"),
    }
    assert '"valueSum":1.35}' in response.text
    # data holds the full orders, exactly as GET returns them
    assert body["data"][0] == json.loads(
        (await client.get(f"{ORDERS}/{third}")).text, parse_float=Decimal
    )

    page = await listing(client, {"offset": "1", "limit": "1"})
    assert [o["id"] for o in page["data"]] == [second]
    assert page["pagination"] == {
        "offset": 1,
        "limit": 1,
        "size": 1,
        "totalSize": 3,
        "valueSum": Decimal("1.35"),
    }
    page = await listing(client, {"offset": "2", "limit": "2"})
    assert [o["id"] for o in page["data"]] == [first]
    assert page["pagination"]["size"] == 1
    page = await listing(client, {"offset": "10"})
    assert page["data"] == []
    assert page["pagination"] == {
        "offset": 10,
        "limit": 20,
        "size": 0,
        "totalSize": 3,
        "valueSum": Decimal("1.35"),
    }


async def test_value_sum_is_exact(client: httpx.AsyncClient) -> None:
    await create_priced(client, "0.1")
    await create_priced(client, "0.2")
    response = await client.get(ORDERS)
    assert response.status_code == 200
    assert '"valueSum":0.3}' in response.text
    assert json.loads(response.text, parse_float=Decimal)["pagination"]["valueSum"] == Decimal(
        "0.3"
    )


async def test_limit_above_100_served_as_100(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    body = await listing(client, {"limit": "1000"})
    assert [o["id"] for o in body["data"]] == [order_id]
    assert body["pagination"] == {
        "offset": 0,
        "limit": 100,
        "size": 1,
        "totalSize": 1,
        "valueSum": 0,
    }
    assert (await listing(client, {"limit": "100"}))["pagination"]["limit"] == 100
    assert (await listing(client, {"limit": "1"}))["pagination"]["limit"] == 1
    # api §1.12: however large (it was refused beyond 2^53)
    huge = await listing(client, {"limit": str(10**20)})
    assert huge["pagination"]["limit"] == 100
    assert [o["id"] for o in huge["data"]] == [order_id]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("limit", "0"),
        ("limit", "-1"),
        ("limit", "ten"),
        ("offset", "-1"),
        ("offset", "1.5"),
    ],
)
async def test_bad_paging_values(client: httpx.AsyncClient, name: str, value: str) -> None:
    await bad_query(client, {name: value}, name)


async def test_only_orders_of_the_request_channel(app: FastAPI, db: Database) -> None:
    tenant = await make_tenant(db, channels=["c1", "c2"])
    async with client_for(app, tenant.headers) as c1:
        mine = await create_order(c1, {"reference": "r"})
    async with client_for(app, {**tenant.headers, "x-channel": "c2"}) as c2:
        theirs = await create_order(c2, {"reference": "r"})
        assert await ids(c2, {"reference": "r"}) == [theirs]
    async with client_for(app, tenant.headers) as c1:
        assert await ids(c1) == [mine]
    other = await make_tenant(db)
    async with client_for(app, other.headers) as c3:
        assert await ids(c3) == []


# Filters -------------------------------------------------------------------------------------


async def test_search(client: httpx.AsyncClient) -> None:
    by_ref, by_cart, by_billing, by_shipping, percent = await create_apart(
        client,
        [
            {"reference": "ERP-Order-77"},
            {"cart": {"reference": "Basket-Blue"}},
            billing(givenName="Rosalinainho", familyName="Undulatsson", email="rosa@Example.com"),
            shipping(givenName="Åke", familyName="Ström", email="ake@shop.se"),
            {"reference": "100% done"},
        ],
    )
    cases: list[tuple[str, list[str]]] = [
        ("erp-order", [by_ref]),
        ("der-7", [by_ref]),
        ("BASKET-b", [by_cart]),
        ("linainho", [by_billing]),
        ("undulats", [by_billing]),
        ("rosalinainho undulatsson", [by_billing]),
        ("inho undul", [by_billing]),
        ("ROSA@EXAMPLE", [by_billing]),
        ("åke ström", [by_shipping]),
        ("ÅKE STRÖM", [by_shipping]),
        ("shop.se", [by_shipping]),
        ("%", [percent]),
        ("0% d", [percent]),
        ("nothing-matches-this", []),
        (by_cart.upper(), [by_cart]),
        (by_shipping[5:20], [by_shipping]),
    ]
    for term, expected in cases:
        assert await ids(client, {"search": term}) == expected, term


async def test_search_length_limits(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"reference": "s" * 200})
    assert await ids(client, {"search": "s" * 200}) == [order_id]
    await bad_query(client, {"search": "s" * 201}, "search")


async def test_payment_id_matches_nothing_without_payments(client: httpx.AsyncClient) -> None:
    await create_priced(client, "5")
    body = await listing(client, {"payment_id": "p_KBiXuYjvYxsezKCQAMuuSKGDaT"})
    assert body == {
        "data": [],
        "pagination": {"offset": 0, "limit": 20, "size": 0, "totalSize": 0, "valueSum": 0},
    }


async def test_reference_and_cart_reference_exact(client: httpx.AsyncClient) -> None:
    a, b, _ = await create_apart(
        client,
        [
            {"reference": "REF-1", "cart": {"reference": "basket-1"}},
            {"reference": "REF-10", "cart": {"reference": "Basket-1"}},
            {},
        ],
    )
    assert await ids(client, {"reference": "REF-1"}) == [a]
    assert await ids(client, {"reference": "ref-1"}) == []
    assert await ids(client, {"reference": "REF"}) == []
    assert await ids(client, {"reference[]": "REF-10"}) == [b]
    assert await ids(client, {"cart_reference": "basket-1"}) == [a]
    assert await ids(client, {"cart_reference": "Basket-1"}) == [b]
    assert await ids(client, {"cart_reference": "basket"}) == []
    # filters are AND-ed
    assert await ids(client, {"reference": "REF-1", "cart_reference": "Basket-1"}) == []


async def test_reference_filter_exact_for_long_values(client: httpx.AsyncClient) -> None:
    reference = "r" * 600
    cart_reference = "c" * 600
    order_id = await create_order(
        client, {"reference": reference, "cart": {"reference": cart_reference}}
    )
    assert await ids(client, {"reference": reference}) == [order_id]
    assert await ids(client, {"cart_reference": cart_reference}) == [order_id]
    # values that share the first 512 characters with the stored ones are different values
    near_misses = (
        await ids(client, {"reference": "r" * 599 + "x"}),
        await ids(client, {"cart_reference": "c" * 599 + "x"}),
    )
    assert near_misses == ([], [])


async def test_reference_filter_matches_empty_reference(client: httpx.AsyncClient) -> None:
    empty, _ = await create_apart(client, [{"reference": ""}, {}])
    assert await ids(client, {"reference": ""}) == [empty]


async def test_reference_follows_updates(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"reference": "before"})
    response = await client.put(f"{ORDERS}/{order_id}/reference", json="after")
    assert response.status_code == 200, response.text
    assert await ids(client, {"reference": "before"}) == []
    assert await ids(client, {"reference": "after"}) == [order_id]


async def move(client: httpx.AsyncClient, order_id: str, *statuses: str) -> None:
    for status in statuses:
        response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": status})
        assert response.status_code == 200, response.text


async def test_status_filter(client: httpx.AsyncClient) -> None:
    free = {"cart": {"items": [{"name": "free"}]}}
    checkout, processing, completed, removed = await create_apart(client, [free] * 4)
    await move(client, processing, "processing")
    await move(client, completed, "completed")
    await move(client, removed, "removed")
    assert await ids(client, {"status": "checkout"}) == [checkout]
    assert await ids(client, {"status": "Completed"}) == [completed]
    assert await ids(client, {"status": "PROCESSING"}) == [processing]
    assert await ids(client, [("status", "checkout"), ("status", "removed")]) == [
        removed,
        checkout,
    ]
    assert await ids(client, [("status[]", "completed"), ("status[]", "processing")]) == [
        completed,
        processing,
    ]
    assert await ids(client, [("status", "completed"), ("status[]", "checkout")]) == [
        completed,
        checkout,
    ]
    assert await ids(client, {"status": "declined"}) == []
    body = await listing(client, [("status", "accepted"), ("status", "declined")])
    assert body["pagination"]["totalSize"] == 0


async def test_status_filter_invalid(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    await bad_query(client, {"status": "shipped"}, "status")
    await bad_query(client, {"status": ""}, "status")
    await bad_query(client, [("status", "checkout")] * 51, "status")
    mixed: Params = [*[("status", "checkout")] * 26, *[("status[]", "removed")] * 25]
    await bad_query(client, mixed, "status")
    assert await ids(client, [("status", "checkout")] * 50) == [order_id]


async def test_country_filters(client: httpx.AsyncClient) -> None:
    se, no, billing_dk, shipping_fi = await create_apart(
        client,
        [
            {"country": "SE"},
            {"country": "no"},
            billing(country="dk"),
            shipping(country="FI"),
        ],
    )
    assert await ids(client, {"countries": "se"}) == [se]
    assert await ids(client, {"countries": "NO"}) == [no]
    assert await ids(client, [("countries", "Se"), ("countries", "nO")]) == [no, se]
    assert await ids(client, {"countries[]": "sE"}) == [se]
    assert await ids(client, {"countries": "dk"}) == []
    assert await ids(client, {"billing_countries": "DK"}) == [billing_dk]
    assert await ids(client, {"billing_countries": "fi"}) == []
    assert await ids(client, {"shipping_countries": "fi"}) == [shipping_fi]
    assert await ids(client, [("shipping_countries", "dk"), ("shipping_countries", "FI")]) == [
        shipping_fi
    ]
    assert await ids(client, {"shipping_countries": "dk"}) == []


async def test_email_filters(client: httpx.AsyncClient) -> None:
    bill, ship = await create_apart(
        client,
        [billing(email="Anna.Svensson@Example.com"), shipping(email="ship@example.com")],
    )
    assert await ids(client, {"billing_emails": "anna.svensson@example.com"}) == [bill]
    assert await ids(client, {"billing_emails": "ANNA.SVENSSON@EXAMPLE.COM"}) == [bill]
    assert await ids(client, {"billing_emails": "svensson@example.com"}) == []
    assert await ids(client, {"billing_emails": "ship@example.com"}) == []
    assert await ids(client, {"shipping_emails": "Ship@Example.com"}) == [ship]
    assert await ids(
        client, [("billing_emails[]", "x@y.z"), ("billing_emails[]", "anna.svensson@example.com")]
    ) == [bill]
    assert await ids(client, {"shipping_emails": "anna.svensson@example.com"}) == []


@pytest.mark.parametrize("kind", ["billing", "shipping"])
async def test_name_filters(client: httpx.AsyncClient, kind: str) -> None:
    other = "shipping" if kind == "billing" else "billing"
    wrap = billing if kind == "billing" else shipping
    anna, bo, _ = await create_apart(
        client,
        [
            wrap(givenName="Anna", familyName="Svensson"),
            wrap(givenName="Bo", familyName="Ek"),
            {"customer": {other: {"givenName": "Anna", "familyName": "Svensson"}}},
        ],
    )
    param = f"{kind}_names"
    assert await ids(client, {param: "anna"}) == [anna]
    assert await ids(client, {param: "SVENSSON"}) == [anna]
    assert await ids(client, {param: "Anna Svensson"}) == [anna]
    assert await ids(client, {param: "anna svensson"}) == [anna]
    assert await ids(client, {param: "Ann"}) == []
    assert await ids(client, {param: "Svensson Anna"}) == []
    assert await ids(client, [(param, "ek"), (param, "anna")]) == [bo, anna]
    assert await ids(client, {f"{param}[]": "bo ek"}) == [bo]


@pytest.mark.parametrize("kind", ["billing", "shipping"])
async def test_phone_filters(client: httpx.AsyncClient, kind: str) -> None:
    wrap = billing if kind == "billing" else shipping
    spaced, plain = await create_apart(
        client, [wrap(phone="+46 70 123\t45 67"), wrap(phone="0701112233")]
    )
    param = f"{kind}_phones"
    assert await ids(client, {param: "+46701234567"}) == [spaced]
    assert await ids(client, {param: " +46 7012 345 67 "}) == [spaced]
    assert await ids(client, {param: "070 111 22 33"}) == [plain]
    assert await ids(client, {param: "070111223"}) == []
    assert await ids(client, [(param, "0701112233"), (param, "+46 70 123 45 67")]) == [
        plain,
        spaced,
    ]
    other = "shipping_phones" if kind == "billing" else "billing_phones"
    assert await ids(client, {other: "0701112233"}) == []


async def test_combined_filters_are_and_ed(client: httpx.AsyncClient) -> None:
    both, _, _ = await create_apart(
        client,
        [
            {"country": "SE", **billing(email="a@x.se")},
            {"country": "SE", **billing(email="b@x.se")},
            {"country": "NO", **billing(email="a@x.se")},
        ],
    )
    body = await listing(client, {"countries": "se", "billing_emails": "a@x.se"})
    assert [o["id"] for o in body["data"]] == [both]
    assert body["pagination"]["totalSize"] == 1


# Dates ---------------------------------------------------------------------------------------


def _shift(stamp: str, hours: int) -> str:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return moment.astimezone(timezone(timedelta(hours=hours))).isoformat(timespec="milliseconds")


async def test_date_filters(client: httpx.AsyncClient) -> None:
    a, b = await create_apart(client, [{}, {}])
    ta = (await get_order(client, a))["created"]
    tb = (await get_order(client, b))["created"]
    assert ta < tb
    cases: list[tuple[dict[str, str], list[str]]] = [
        ({"date_from": ta}, [b, a]),
        ({"date_from": tb}, [b]),
        ({"date_to": ta}, [a]),
        ({"date_to": tb}, [b, a]),
        ({"date_from": ta, "date_to": ta}, [a]),
        ({"date_from": tb, "date_to": ta}, []),
        # other offsets and no offset (UTC)
        ({"date_from": _shift(tb, 2)}, [b]),
        ({"date_to": _shift(ta, -5)}, [a]),
        ({"date_from": tb[:-1]}, [b]),
        ({"date_to": ta[:-1]}, [a]),
        ({"date_from": ta.lower()}, [b, a]),
        ({"date_from": ta[:19] + "Z"}, [b, a]),
    ]
    for params, expected in cases:
        assert await ids(client, params) == expected, params


async def test_date_only_bounds_cover_whole_days(client: httpx.AsyncClient) -> None:
    a, b = await create_apart(client, [{}, {}])
    created = {order_id: (await get_order(client, order_id))["created"] for order_id in (a, b)}
    day_a = date.fromisoformat(created[a][:10])
    newest_first = [b, a]

    def on_or_before(day: date) -> list[str]:
        return [o for o in newest_first if created[o][:10] <= day.isoformat()]

    def on_or_after(day: date) -> list[str]:
        return [o for o in newest_first if created[o][:10] >= day.isoformat()]

    for day in (day_a - timedelta(days=1), day_a, day_a + timedelta(days=1)):
        assert await ids(client, {"date_to": day.isoformat()}) == on_or_before(day), day
        assert await ids(client, {"date_from": day.isoformat()}) == on_or_after(day), day
    both = {"date_from": day_a.isoformat(), "date_to": day_a.isoformat()}
    assert await ids(client, both) == [
        o for o in newest_first if created[o][:10] == created[a][:10]
    ]


async def test_date_from_finer_than_milliseconds(client: httpx.AsyncClient) -> None:
    """``created >= value`` must hold exactly: a bound 0.4 ms after ``created`` excludes it."""
    a, b = await create_apart(client, [{}, {}])
    ta = (await get_order(client, a))["created"]
    later = ta[:-1] + "4Z"  # e.g. 08:21:29.1234Z for created 08:21:29.123Z
    assert await ids(client, {"date_to": later}) == [a]
    assert await ids(client, {"date_from": later}) == [b]


@pytest.mark.parametrize(
    "value",
    ["yesterday", "2026-13-01", "2026-02-30", "2026-01-12T25:00:00Z", "20260112", ""],
)
async def test_bad_dates(client: httpx.AsyncClient, value: str) -> None:
    await bad_query(client, {"date_from": value}, "date_from")
    await bad_query(client, {"date_to": value}, "date_to")


async def test_extreme_valid_dates(client: httpx.AsyncClient) -> None:
    """The edges of the RFC 3339 range are valid bounds, not server errors."""
    order_id = await create_order(client)
    cases: list[tuple[dict[str, str], list[str]]] = [
        ({"date_to": "9999-12-31"}, [order_id]),
        ({"date_to": "9999-12-31T23:59:59.999Z"}, [order_id]),
        ({"date_from": "0001-01-01"}, [order_id]),
        ({"date_from": "0001-01-01T00:00:00+01:00"}, [order_id]),
        ({"date_to": "0001-01-01T00:00:00Z"}, []),
        ({"date_from": "9999-12-31T23:59:59-01:00"}, []),
    ]
    results = {json.dumps(params): await ids_or_status(client, params) for params, _ in cases}
    assert results == {json.dumps(params): expected for params, expected in cases}


async def ids_or_status(client: httpx.AsyncClient, params: Params) -> list[str] | int:
    response = await client.get(ORDERS, params=params)
    if response.status_code != 200:
        return response.status_code
    return [order["id"] for order in response.json()["data"]]


async def test_huge_offset_is_not_a_server_error(client: httpx.AsyncClient) -> None:
    await create_order(client)
    response = await client.get(ORDERS, params={"offset": "99999999999999999999"})
    # an empty page past the end, or a refused number; never a 500
    assert response.status_code in (200, 400), response.text
    body = response.json()
    if response.status_code == 200:
        assert body["data"] == []
        assert body["pagination"]["totalSize"] == 1
    else:
        assert body["code"] == "invalid-request"
        assert "?offset" in [e["path"] for e in body["errors"]]


async def test_nul_character_in_filters(client: httpx.AsyncClient) -> None:
    with_nul, plain = await create_apart(client, [{"reference": "a\u0000b"}, {"reference": "ab"}])
    results = (
        await ids_or_status(client, {"reference": "a\x00b"}),
        await ids_or_status(client, {"reference": "ab"}),
        await ids_or_status(client, {"search": "a\x00"}),
        await ids_or_status(client, {"billing_emails": "\x00"}),
    )
    assert results == ([with_nul], [plain], [with_nul], [])


# Sorting -------------------------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["asc", "desc"])
async def test_order_by_created(client: httpx.AsyncClient, direction: str) -> None:
    order_ids = await create_apart(client, [{}, {}, {}])
    expected = order_ids if direction == "asc" else order_ids[::-1]
    params = {"order_by": "created", "order_by_direction": direction}
    assert await ids(client, params) == expected
    if direction == "desc":
        assert await ids(client, {"order_by": "created"}) == expected
        assert await ids(client) == expected
    else:
        assert await ids(client, {"order_by_direction": "ASC"}) == expected


@pytest.mark.parametrize("direction", ["asc", "desc"])
async def test_order_by_billing_email_missing_last_ties_by_id(
    client: httpx.AsyncClient, direction: str
) -> None:
    none, b, a, c, same1, same2 = await create_apart(
        client,
        [
            {},
            billing(email="b@x.se"),
            billing(email="a@x.se"),
            billing(email="c@x.se"),
            billing(email="s@x.se"),
            billing(email="s@x.se"),
        ],
    )
    ties = sorted([same1, same2])
    ordered = [a, b, c, *ties] if direction == "asc" else [*ties, c, b, a]
    params = {"order_by": "billingEmail", "order_by_direction": direction}
    assert await ids(client, params) == [*ordered, none]
    params = {"order_by": "BILLINGEMAIL", "order_by_direction": direction.upper()}
    assert await ids(client, params) == [*ordered, none]
    page = await listing(client, {**params, "offset": "5", "limit": "5"})
    assert [o["id"] for o in page["data"]] == [none]


@pytest.mark.parametrize("direction", ["asc", "desc"])
async def test_order_by_billing_name_case_folded_missing_last(
    client: httpx.AsyncClient, direction: str
) -> None:
    none, bob, alice_zed, alice_adams, shipping_only = await create_apart(
        client,
        [
            {},
            billing(givenName="bob", familyName="Young"),
            billing(givenName="Alice", familyName="zed"),
            billing(givenName="alice", familyName="Adams"),
            shipping(givenName="Aaron", familyName="Aa"),
        ],
    )
    ordered = [alice_adams, alice_zed, bob]
    if direction == "desc":
        ordered.reverse()
    params = {"order_by": "billingName", "order_by_direction": direction}
    result = await ids(client, params)
    assert result[:3] == ordered
    assert sorted(result[3:]) == sorted([none, shipping_only])


@pytest.mark.parametrize("direction", ["asc", "desc"])
async def test_order_by_cart_total_numeric(client: httpx.AsyncClient, direction: str) -> None:
    amounts = ["10", "9.5", "100", "10.000001", "0"]
    created = []
    for amount in amounts:
        created.append(await create_priced(client, amount))
    by_amount = dict(zip(created, amounts, strict=True))
    ordered = sorted(created, key=lambda o: (Decimal(by_amount[o]), o))
    if direction == "desc":
        ordered = sorted(created, key=lambda o: (-Decimal(by_amount[o]), o))
    params = {"order_by": "cartTotal", "order_by_direction": direction}
    body = await listing(client, params)
    assert [o["id"] for o in body["data"]] == ordered
    assert body["pagination"]["valueSum"] == Decimal("129.500001")


async def test_order_by_cart_total_ties_by_id(client: httpx.AsyncClient) -> None:
    order_ids = [await create_priced(client, "5") for _ in range(3)]
    for direction in ("asc", "desc"):
        params = {"order_by": "carttotal", "order_by_direction": direction}
        assert await ids(client, params) == sorted(order_ids)


async def test_order_by_uses_client_cart_total(client: httpx.AsyncClient) -> None:
    low = await create_order(
        client,
        {"cart": {"items": [{"total": {"includingVat": 50}}], "total": {"includingVat": 1}}},
    )
    high = await create_priced(client, "2")
    params = {"order_by": "cartTotal", "order_by_direction": "asc"}
    assert await ids(client, params) == [low, high]


@pytest.mark.parametrize(
    ("name", "value"),
    [("order_by", "price"), ("order_by", "billing_email"), ("order_by_direction", "up")],
)
async def test_bad_sort_values(client: httpx.AsyncClient, name: str, value: str) -> None:
    await bad_query(client, {name: value}, name)


async def test_unknown_parameters_ignored(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    assert await ids(client, {"colour": "blue", "page": "7"}) == [order_id]


async def test_list_reflects_deleted_orders(client: httpx.AsyncClient) -> None:
    keep = await create_priced(client, "1")
    gone = await create_priced(client, "2")
    response = await client.delete(f"{ORDERS}/{gone}")
    assert response.status_code == 204
    body = await listing(client)
    assert [o["id"] for o in body["data"]] == [keep]
    assert body["pagination"]["valueSum"] == 1
