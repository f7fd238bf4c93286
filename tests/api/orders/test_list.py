"""``GET /api/v0/checkout/orders`` (api §2.1 operation 2): the pagination object (api
§3.29-3.30), the channel scope and every sort key."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI

from kassa.db.engine import Database
from tests.conftest import ORDERS, client_for, create_order, make_tenant
from tests.support.orders_list import (
    bad_query,
    billing,
    create_apart,
    create_priced,
    ids,
    listing,
    shipping,
)

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
    [
        ("order_by", "price"),
        ("order_by", "billing_email"),
        ("order_by", ""),
        ("order_by_direction", "up"),
        ("order_by_direction", ""),
    ],
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
