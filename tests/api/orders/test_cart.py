"""The cart over HTTP (api §2.1 operation 6): numbers (api §1.7), totals (semantics §3.4), cart
item ids (semantics §3.6) and limits."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.conftest import ORDERS, create_order, get_order
from tests.support.http_asserts import assert_error
from tests.support.orders import JSON, history_len, post_raw

ITEM_ID = re.compile(r"^ci_[A-Za-z]{26}$")


def exact(response: httpx.Response) -> Any:
    """The response body with every fraction as an exact ``Decimal``."""
    return json.loads(response.text, parse_float=Decimal)


# Numbers (api §1.7) --------------------------------------------------------------------------


async def test_numbers_written_in_canonical_form(client: httpx.AsyncClient) -> None:
    text = (
        '{"cart": {"items": [{"name": "a", "quantity": 2.0, "vatRate": 0.250,'
        ' "price": {"includingVat": 1E+2, "excludingVat": -0},'
        ' "total": {"includingVat": 987.20, "excludingVat": 789.760}}]},'
        ' "attributes": {"n": 1.10, "e": 1e-7, "z": 0.000}}'
    )
    response = await post_raw(client, text)
    assert response.status_code == 201, response.text
    raw = await client.get(f"{ORDERS}/{response.json()['id']}")
    item = exact(raw)["cart"]["items"][0]
    assert item["quantity"] == 2
    assert item["vatRate"] == Decimal("0.25")
    assert item["price"] == {"includingVat": 100, "excludingVat": 0}
    assert item["total"] == {"includingVat": Decimal("987.2"), "excludingVat": Decimal("789.76")}
    for fragment in (
        '"quantity":2',
        '"vatRate":0.25',
        '"includingVat":100',
        '"excludingVat":0',
        '"includingVat":987.2',
        '"excludingVat":789.76',
        '"n":1.1',
        '"e":0.0000001',
        '"z":0',
    ):
        assert re.search(re.escape(fragment) + r"[,}\]]", raw.text), fragment
    for bad in (r"987\.20", r":2\.0", r"0\.250", r"[:\[,]-?\d+(\.\d+)?[eE]", r":-0"):
        assert not re.search(bad, raw.text), bad


async def test_decimal_sum_is_exact(client: httpx.AsyncClient) -> None:
    text = (
        '{"cart": {"items": ['
        '{"total": {"includingVat": 0.1, "excludingVat": 0.08}},'
        '{"total": {"includingVat": 0.2, "excludingVat": 0.16}}]}}'
    )
    response = await post_raw(client, text)
    assert response.status_code == 201, response.text
    got = await client.get(f"{ORDERS}/{response.json()['id']}")
    order = exact(got)
    assert order["cart"]["total"] == {
        "includingVat": Decimal("0.3"),
        "excludingVat": Decimal("0.24"),
    }
    assert order["total"] == {"includingVat": Decimal("0.3"), "excludingVat": Decimal("0.24")}
    assert '"total":{"includingVat":0.3,"excludingVat":0.24}' in got.text
    assert "0.30000000000000004" not in got.text


# Totals (semantics §3.4) ---------------------------------------------------------------------


async def test_totals_sum_top_level_items_only_and_never_price(
    client: httpx.AsyncClient,
) -> None:
    cart = {
        "items": [
            {"name": "a", "total": {"includingVat": 10, "excludingVat": 8}},
            {
                "name": "bundle",
                "productType": "Bundle",
                "total": {"includingVat": 2.5, "excludingVat": 2},
                "items": [{"name": "child", "total": {"includingVat": 100, "excludingVat": 80}}],
            },
            # no total: price x quantity is never computed
            {"name": "c", "quantity": 3, "price": {"includingVat": 7, "excludingVat": 5}},
            # only one component
            {"name": "d", "total": {"includingVat": 1}},
        ]
    }
    order_id = await create_order(client, {"cart": cart})
    order = await get_order(client, order_id)
    assert order["cart"]["total"] == {"includingVat": 13.5, "excludingVat": 10}
    assert order["total"] == {"includingVat": 13.5, "excludingVat": 10}
    assert order["cart"]["items"][1]["productType"] == "bundle"


async def test_client_cart_total_is_kept_and_partial_total_filled(
    client: httpx.AsyncClient,
) -> None:
    items = [{"total": {"includingVat": 10, "excludingVat": 8}}]
    order_id = await create_order(
        client, {"cart": {"items": items, "total": {"includingVat": 99, "excludingVat": 1}}}
    )
    order = await get_order(client, order_id)
    assert order["cart"]["total"] == {"includingVat": 99, "excludingVat": 1}
    assert order["total"] == {"includingVat": 99, "excludingVat": 1}

    response = await client.put(
        f"{ORDERS}/{order_id}/cart", json={"items": items, "total": {"includingVat": 50}}
    )
    assert response.status_code == 200, response.text
    order = await get_order(client, order_id)
    assert order["cart"]["total"] == {"includingVat": 50, "excludingVat": 8}
    assert order["total"] == {"includingVat": 50, "excludingVat": 8}

    # a cart without total is computed again from the items
    response = await client.put(f"{ORDERS}/{order_id}/cart", json={"items": items})
    assert response.status_code == 200, response.text
    order = await get_order(client, order_id)
    assert order["cart"]["total"] == {"includingVat": 10, "excludingVat": 8}
    assert order["total"] == {"includingVat": 10, "excludingVat": 8}


async def test_client_order_total_ignored(client: httpx.AsyncClient) -> None:
    order_id = await create_order(
        client,
        {
            "cart": {"items": [{"total": {"includingVat": 4, "excludingVat": 3}}]},
            "total": {"includingVat": 1000, "excludingVat": 1000},
        },
    )
    assert (await get_order(client, order_id))["total"] == {"includingVat": 4, "excludingVat": 3}


# Cart (operation 6) and item ids (semantics §3.6) --------------------------------------------


async def test_item_ids_assigned_kept_and_stable(client: httpx.AsyncClient) -> None:
    cart = {
        "items": [
            {"name": "server-id"},
            {"id": "client-line-1", "name": "client-id"},
            {"name": "bundle", "items": [{"name": "child"}, {"id": "child-2", "name": "c2"}]},
        ]
    }
    order_id = await create_order(client, {"cart": cart})
    order = await get_order(client, order_id)
    items = order["cart"]["items"]
    assert ITEM_ID.match(items[0]["id"])
    assert items[1]["id"] == "client-line-1"
    assert ITEM_ID.match(items[2]["id"])
    assert ITEM_ID.match(items[2]["items"][0]["id"])
    assert items[2]["items"][1]["id"] == "child-2"
    generated = {items[0]["id"], items[2]["id"], items[2]["items"][0]["id"]}
    assert len(generated) == 3

    # the documented client flow: GET, change a quantity, PUT the cart back
    items[0]["quantity"] = 5
    response = await client.put(f"{ORDERS}/{order_id}/cart", json=order["cart"])
    assert response.status_code == 200, response.text
    assert response.content == b""
    after = await get_order(client, order_id)
    assert after["cart"]["items"] == items
    assert after["cart"]["items"][0]["quantity"] == 5

    # items sent without ids get fresh ids, never the old ones
    response = await client.put(f"{ORDERS}/{order_id}/cart", json={"items": [{"name": "n"}]})
    assert response.status_code == 200, response.text
    new_items = (await get_order(client, order_id))["cart"]["items"]
    assert ITEM_ID.match(new_items[0]["id"])
    assert new_items[0]["id"] not in generated


@pytest.mark.parametrize(
    "items",
    [
        [{"id": "x"}, {"id": "x"}],
        [{"id": "x", "items": [{"id": "x"}]}],
        [{"id": "a", "items": [{"id": "b"}]}, {"id": "b"}],
    ],
)
async def test_duplicate_item_ids_refused(
    client: httpx.AsyncClient, items: list[dict[str, Any]]
) -> None:
    assert_error(await client.post(ORDERS, json={"cart": {"items": items}}), 400, "invalid-request")
    order_id = await create_order(client, {"cart": {"items": [{"id": "keep"}]}})
    response = await client.put(f"{ORDERS}/{order_id}/cart", json={"items": items})
    assert_error(response, 400, "invalid-request")
    assert [i["id"] for i in (await get_order(client, order_id))["cart"]["items"]] == ["keep"]


@pytest.mark.parametrize("item_id", ["", "x" * 129, 7])
async def test_bad_item_id_refused(client: httpx.AsyncClient, item_id: Any) -> None:
    body = {"cart": {"items": [{"id": item_id}]}}
    error = assert_error(await client.post(ORDERS, json=body), 400, "invalid-request")
    assert error["errors"][0]["path"] == "/cart/items/0/id"


async def test_item_id_of_128_characters_kept(client: httpx.AsyncClient) -> None:
    item_id = "ö" * 128
    order_id = await create_order(client, {"cart": {"items": [{"id": item_id}]}})
    assert (await get_order(client, order_id))["cart"]["items"][0]["id"] == item_id


async def test_put_cart_replaces_whole_cart(client: httpx.AsyncClient) -> None:
    order_id = await create_order(
        client,
        {
            "cart": {
                "reference": "basket-1",
                "attributes": {"a": 1},
                "discounts": [{"type": "item", "value": {"includingVat": 1}}],
                "items": [{"name": "old", "total": {"includingVat": 5, "excludingVat": 4}}],
            }
        },
    )
    response = await client.put(
        f"{ORDERS}/{order_id}/cart",
        json={
            "items": [
                {
                    "name": "new",
                    "sku": "A000123",
                    "unit": "st",
                    "logistics": {"weight": 100, "tags": ["bulky"]},
                    "discounts": [{"type": "Shipping", "code": "FREE"}],
                    "total": {"includingVat": 7, "excludingVat": 6},
                }
            ]
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    cart = (await get_order(client, order_id))["cart"]
    assert "reference" not in cart
    assert "attributes" not in cart
    assert "discounts" not in cart
    assert [i["name"] for i in cart["items"]] == ["new"]
    item = cart["items"][0]
    assert item["logistics"] == {"weight": 100, "tags": ["bulky"]}
    assert item["discounts"] == [{"type": "shipping", "code": "FREE"}]
    assert cart["total"] == {"includingVat": 7, "excludingVat": 6}
    assert (await get_order(client, order_id))["total"] == {"includingVat": 7, "excludingVat": 6}


async def test_put_empty_cart(client: httpx.AsyncClient) -> None:
    order_id = await create_order(
        client, {"cart": {"items": [{"total": {"includingVat": 5, "excludingVat": 4}}]}}
    )
    response = await client.put(f"{ORDERS}/{order_id}/cart", json={})
    assert response.status_code == 200, response.text
    order = await get_order(client, order_id)
    assert order["cart"] == {"items": [], "total": {"includingVat": 0, "excludingVat": 0}}
    assert order["total"] == {"includingVat": 0, "excludingVat": 0}


async def test_put_cart_with_same_ids_is_noop(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"cart": {"items": [{"id": "l1", "quantity": 1}]}})
    before = await get_order(client, order_id)
    response = await client.put(f"{ORDERS}/{order_id}/cart", json=before["cart"])
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"1"'
    assert await get_order(client, order_id) == before
    assert await history_len(client, order_id) == 1


async def test_put_cart_invalid_bodies(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    url = f"{ORDERS}/{order_id}/cart"
    assert_error(await client.put(url), 400, "invalid-request")
    assert_error(await client.put(url, json=[]), 400, "invalid-request")
    error = assert_error(
        await client.put(url, json={"items": [{"quantity": "2"}]}), 400, "invalid-request"
    )
    assert error["errors"][0]["path"] == "/items/0/quantity"
    response = await client.put(
        url, content=b'{"items": [{"price": {"includingVat": -0.01}}]}', headers=JSON
    )
    error = assert_error(response, 400, "invalid-amount")
    assert error["errors"][0]["path"] == "/items/0/price/includingVat"
    assert (await client.get(f"{ORDERS}/{order_id}")).headers["etag"] == '"1"'


async def test_cart_and_addresses_locked_outside_checkout(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"cart": {"items": [{"name": "free"}]}})
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "processing"})
    assert response.status_code == 200, response.text
    for path, body in (
        ("cart", {"items": []}),
        ("customer/billing", {"givenName": "X"}),
        ("customer/shipping", {"givenName": "Y"}),
    ):
        error = assert_error(
            await client.put(f"{ORDERS}/{order_id}/{path}", json=body), 409, "order-not-editable"
        )
        assert error["state"] == "processing"
    order = await get_order(client, order_id)
    assert [i["name"] for i in order["cart"]["items"]] == ["free"]
    assert "customer" not in order
    # back to checkout, the cart may change again
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "checkout"})
    assert response.status_code == 200, response.text
    response = await client.put(f"{ORDERS}/{order_id}/cart", json={"items": []})
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["cart"]["items"] == []


async def test_item_enums_written_canonically(client: httpx.AsyncClient) -> None:
    order_id = await create_order(
        client,
        {
            "cart": {
                "items": [
                    {"productType": "GIFTCARD"},
                    {"productType": "Digital"},
                    {"productType": "physical", "discounts": [{"type": "ITEM"}]},
                ],
                "discounts": [{"type": "Shipping"}],
            }
        },
    )
    cart = (await get_order(client, order_id))["cart"]
    assert [i["productType"] for i in cart["items"]] == ["giftCard", "digital", "physical"]
    assert cart["items"][2]["discounts"] == [{"type": "item"}]
    assert cart["discounts"] == [{"type": "shipping"}]


async def test_price_precision_after_canonical_form(client: httpx.AsyncClient) -> None:
    text = (
        '{"cart": {"items": [{"total": {"includingVat": 1.0000000,'
        ' "excludingVat": 999999999999999.999999}}]}}'
    )
    response = await post_raw(client, text)
    assert response.status_code == 201, response.text
    got = await client.get(f"{ORDERS}/{response.json()['id']}")
    assert exact(got)["cart"]["items"][0]["total"] == {
        "includingVat": 1,
        "excludingVat": Decimal("999999999999999.999999"),
    }
    assert '"excludingVat":999999999999999.999999' in got.text


async def test_cart_item_limit_counts_bundle_children(client: httpx.AsyncClient) -> None:
    # 500 bundles with one child each = 1,000 items: allowed
    items: list[dict[str, Any]] = [{"items": [{}]} for _ in range(500)]
    order_id = await create_order(client, {"cart": {"items": items}})
    assert len((await get_order(client, order_id))["cart"]["items"]) == 500
    too_many = [*items, {}]
    error = assert_error(
        await client.post(ORDERS, json={"cart": {"items": too_many}}), 400, "limit-exceeded"
    )
    assert isinstance(error["errors"], list)
    response = await client.put(f"{ORDERS}/{order_id}/cart", json={"items": too_many})
    assert_error(response, 400, "limit-exceeded")
    assert (await client.get(f"{ORDERS}/{order_id}")).headers["etag"] == '"1"'
