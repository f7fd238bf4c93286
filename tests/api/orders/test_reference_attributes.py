"""The order reference and attributes over HTTP (api §2.1 operations 5 and 17), and JSON
values that round-trip exactly (api §1.6)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ORDERS, create_order, get_order
from tests.support.http_asserts import assert_error
from tests.support.orders import JSON, history_len, post_raw

# Reference (operation 17) --------------------------------------------------------------------


async def test_put_reference_bare_string(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.put(f"{ORDERS}/{order_id}/reference", json="something-reference")
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert response.headers["etag"] == '"2"'
    order = await get_order(client, order_id)
    assert order["reference"] == "something-reference"
    assert order["lastModified"] >= order["created"]

    response = await client.put(f"{ORDERS}/{order_id}/reference", json="")
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["reference"] == ""

    # free text is stored exactly: no trimming, no case change
    response = await client.put(f"{ORDERS}/{order_id}/reference", json="  Mixed Case\t")
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["reference"] == "  Mixed Case\t"


@pytest.mark.parametrize("body", ['{"reference": "x"}', "12", "null", '["x"]', "true"])
async def test_put_reference_non_string_is_invalid_request(
    client: httpx.AsyncClient, body: str
) -> None:
    order_id = await create_order(client, {"reference": "old"})
    response = await client.put(
        f"{ORDERS}/{order_id}/reference", content=body.encode(), headers=JSON
    )
    assert_error(response, 400, "invalid-request")
    order = await get_order(client, order_id)
    assert order["reference"] == "old"
    assert (await client.get(f"{ORDERS}/{order_id}")).headers["etag"] == '"1"'


async def test_put_reference_same_value_is_noop(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"reference": "same"})
    before = await get_order(client, order_id)
    response = await client.put(f"{ORDERS}/{order_id}/reference", json="same")
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"1"'
    assert await get_order(client, order_id) == before
    assert await history_len(client, order_id) == 1


async def test_reference_and_attributes_editable_until_removed(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(client, {"cart": {"items": [{"name": "free"}]}})
    response = await client.put(f"{ORDERS}/{order_id}/state", json={"currentStatus": "completed"})
    assert response.status_code == 200, response.text
    response = await client.put(f"{ORDERS}/{order_id}/reference", json="late")
    assert response.status_code == 200, response.text
    response = await client.patch(f"{ORDERS}/{order_id}/attributes", json={"late": True})
    assert response.status_code == 200, response.text
    order = await get_order(client, order_id)
    assert order["reference"] == "late"
    assert order["attributes"] == {"late": True}

    removed_id = await create_order(client, {"reference": "r"})
    response = await client.put(f"{ORDERS}/{removed_id}/state", json={"currentStatus": "removed"})
    assert response.status_code == 200, response.text
    body = assert_error(
        await client.put(f"{ORDERS}/{removed_id}/reference", json="x"), 409, "order-not-editable"
    )
    assert body["state"] == "removed"
    body = assert_error(
        await client.patch(f"{ORDERS}/{removed_id}/attributes", json={"a": 1}),
        409,
        "order-not-editable",
    )
    assert body["state"] == "removed"
    order = await get_order(client, removed_id)
    assert order["reference"] == "r"
    assert "attributes" not in order


# Attributes (operation 5) and JSON round-trips ----------------------------------------------


async def test_patch_attributes_shallow_merge(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"attributes": {"keep": 1, "replace": {"deep": 1}}})
    response = await client.patch(
        f"{ORDERS}/{order_id}/attributes",
        json={"replace": {"other": 2}, "new": None, "list": [1, "två", None]},
    )
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert response.headers["etag"] == '"2"'
    order = await get_order(client, order_id)
    assert order["attributes"] == {
        "keep": 1,
        "replace": {"other": 2},
        "new": None,
        "list": [1, "två", None],
    }
    # null is a value, not a deletion; absent keys stay
    response = await client.patch(f"{ORDERS}/{order_id}/attributes", json={"keep": None})
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["attributes"]["keep"] is None


async def test_patch_attributes_creates_attributes(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.patch(f"{ORDERS}/{order_id}/attributes", json={"erpId": "E-1"})
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["attributes"] == {"erpId": "E-1"}


@pytest.mark.parametrize("body", ["[1]", '"text"', "3", "null"])
async def test_patch_attributes_non_object_is_invalid_request(
    client: httpx.AsyncClient, body: str
) -> None:
    order_id = await create_order(client, {"attributes": {"a": 1}})
    response = await client.patch(
        f"{ORDERS}/{order_id}/attributes", content=body.encode(), headers=JSON
    )
    assert_error(response, 400, "invalid-request")
    assert (await get_order(client, order_id))["attributes"] == {"a": 1}


async def test_patch_attributes_same_values_is_noop(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"attributes": {"price": 1.5, "flag": True}})
    response = await client.patch(
        f"{ORDERS}/{order_id}/attributes",
        content=b'{"price": 1.50, "flag": true}',
        headers=JSON,
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"1"'
    assert await history_len(client, order_id) == 1


async def test_attribute_true_and_one_are_different_values(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"attributes": {"x": 1}})
    response = await client.patch(f"{ORDERS}/{order_id}/attributes", json={"x": True})
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    assert (await get_order(client, order_id))["attributes"]["x"] is True


async def test_unicode_and_attributes_round_trip(client: httpx.AsyncClient) -> None:
    attributes = {
        "nationalIdentificationNumber": None,
        "värde": "värde ✓ 日本語 🎉",
        "nested": {"a": [1, {"b": None}, [], {}], "empty": ""},
        "bool": False,
        "big": 12345678901234567890,
        "property1": None,
        "escapes": 'quote " back \\ tab \t nl \n',
    }
    order_id = await create_order(
        client,
        {
            "reference": "réf-ÅÄÖ",
            "cart": {"reference": "korg-ü", "items": [{"name": "Tröja XL 👕"}]},
            "attributes": attributes,
        },
    )
    order = await get_order(client, order_id)
    assert order["attributes"] == attributes
    assert order["reference"] == "réf-ÅÄÖ"
    assert order["cart"]["reference"] == "korg-ü"
    assert order["cart"]["items"][0]["name"] == "Tröja XL 👕"
    response = await client.patch(f"{ORDERS}/{order_id}/attributes", json={"ny": "ÿ"})
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["attributes"] == {**attributes, "ny": "ÿ"}


async def test_nul_character_round_trips(client: httpx.AsyncClient) -> None:
    """U+0000 is a valid JSON string character; it is stored like any other (api §1.6)."""
    text = (
        '{"reference": "a\\u0000b", "cart": {"reference": "\\u0000",'
        ' "items": [{"name": "n\\u0000"}]},'
        ' "customer": {"billing": {"email": "x\\u0000@y", "givenName": "\\u0000"}},'
        ' "attributes": {"k\\u0000": "v\\u0000"}}'
    )
    response = await post_raw(client, text)
    assert response.status_code == 201, response.text
    order = await get_order(client, response.json()["id"])
    assert order["reference"] == "a\x00b"
    assert order["cart"]["reference"] == "\x00"
    assert order["cart"]["items"][0]["name"] == "n\x00"
    assert order["customer"]["billing"] == {"email": "x\x00@y", "givenName": "\x00"}
    assert order["attributes"] == {"k\x00": "v\x00"}
    response = await client.put(f"{ORDERS}/{order['id']}/reference", json="\x00")
    assert response.status_code == 200, response.text
    assert (await get_order(client, order["id"]))["reference"] == "\x00"


async def test_string_longer_than_4096_refused(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    response = await client.put(f"{ORDERS}/{order_id}/reference", json="x" * 4097)
    assert_error(response, 400, "invalid-request")
    response = await client.put(f"{ORDERS}/{order_id}/reference", json="x" * 4096)
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["reference"] == "x" * 4096


async def test_attribute_size_limits(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    url = f"{ORDERS}/{order_id}/attributes"
    long_value = "v" * 65536
    response = await client.patch(url, json={"k" * 256: long_value})
    assert response.status_code == 200, response.text
    assert (await get_order(client, order_id))["attributes"] == {"k" * 256: long_value}
    assert_error(await client.patch(url, json={"k" * 257: 1}), 400, "invalid-request")
    assert_error(await client.patch(url, json={"a": "v" * 65537}), 400, "invalid-request")
    assert_error(
        await client.patch(url, json={"a": {"deep": ["v" * 65537]}}), 400, "invalid-request"
    )
    assert (await client.get(f"{ORDERS}/{order_id}")).headers["etag"] == '"2"'
