"""ETag and If-Match (api §1.11, semantics §4.3, §10)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ORDERS, create_order, get_order
from tests.support.http_asserts import assert_error, field_paths


async def _etag(client: httpx.AsyncClient, order_id: str) -> str:
    response = await client.get(f"{ORDERS}/{order_id}")
    assert response.status_code == 200, response.text
    return response.headers["etag"]


async def _history_len(client: httpx.AsyncClient, order_id: str) -> int:
    response = await client.get(f"{ORDERS}/{order_id}/history")
    assert response.status_code == 200, response.text
    return len(response.json())


async def _order_at_version(client: httpx.AsyncClient, version: int) -> str:
    """An order whose version is ``version`` (created at 1, one attribute write per step)."""
    order_id = await create_order(client)
    for step in range(2, version + 1):
        response = await client.patch(f"{ORDERS}/{order_id}/attributes", json={"step": step})
        assert response.status_code == 200, response.text
    assert await _etag(client, order_id) == f'"{version}"'
    return order_id


async def test_create_and_get_carry_etag_1(client: httpx.AsyncClient) -> None:
    response = await client.post(ORDERS, json={"reference": "e"})
    assert response.status_code == 201, response.text
    assert response.headers["etag"] == '"1"'
    order_id = response.json()["id"]
    get = await client.get(f"{ORDERS}/{order_id}")
    assert get.status_code == 200, get.text
    assert get.headers["etag"] == '"1"'
    assert get.json()["id"] == order_id


async def test_every_write_returns_the_new_version(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    base = f"{ORDERS}/{order_id}"
    writes = [
        ("PATCH", f"{base}/attributes", {"a": 1}),
        ("PUT", f"{base}/reference", "ref"),
        ("PUT", f"{base}/cart", {"items": [{"name": "x", "quantity": 1}]}),
        ("PUT", f"{base}/customer/billing", {"givenName": "Ada"}),
        ("PUT", f"{base}/customer/shipping", {"givenName": "Bo"}),
        ("POST", f"{base}/consents", {"id": "terms", "checked": False}),
        ("PATCH", f"{base}/consents/terms", {"checked": True}),
        ("PATCH", f"{base}/consents", [{"id": "terms", "checked": False}]),
        ("DELETE", f"{base}/consents/terms", None),
        ("PUT", f"{base}/state", {"currentStatus": "declined"}),
    ]
    for version, (method, url, body) in enumerate(writes, start=2):
        response = await client.request(method, url, json=body)
        assert response.status_code == 200, (url, response.text)
        assert response.content == b"" and response.headers["content-length"] == "0", url
        assert response.headers["etag"] == f'"{version}"', url
        assert await _etag(client, order_id) == f'"{version}"'
    assert await _history_len(client, order_id) == len(writes) + 1


async def test_if_match_current_version_applies(client: httpx.AsyncClient) -> None:
    order_id = await _order_at_version(client, 3)
    response = await client.patch(
        f"{ORDERS}/{order_id}/attributes", json={"ok": True}, headers={"If-Match": '"3"'}
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"4"'
    assert (await get_order(client, order_id))["attributes"]["ok"] is True


async def test_stale_if_match_is_precondition_failed(client: httpx.AsyncClient) -> None:
    order_id = await _order_at_version(client, 3)
    before = await get_order(client, order_id)
    for stale in ('"2"', '"1"', '"4"', '"03"', 'W/"2"', '"2", "4"', '""'):
        response = await client.patch(
            f"{ORDERS}/{order_id}/attributes", json={"late": True}, headers={"If-Match": stale}
        )
        body = assert_error(response, 412, "precondition-failed")
        assert body["currentETag"] == '"3"', stale
    assert await get_order(client, order_id) == before
    assert await _etag(client, order_id) == '"3"'
    assert await _history_len(client, order_id) == 3


async def test_stale_if_match_on_every_write_kind(client: httpx.AsyncClient) -> None:
    order_id = await _order_at_version(client, 2)
    base = f"{ORDERS}/{order_id}"
    stale = {"If-Match": '"1"'}
    for method, url, body in [
        ("PUT", f"{base}/reference", "r"),
        ("PUT", f"{base}/cart", {"items": []}),
        ("PUT", f"{base}/state", {"currentStatus": "removed"}),
        ("PUT", f"{base}/customer/billing", {"givenName": "x"}),
        ("POST", f"{base}/consents", {"id": "c"}),
    ]:
        response = await client.request(method, url, json=body, headers=stale)
        assert assert_error(response, 412, "precondition-failed")["currentETag"] == '"2"', url
    response = await client.delete(base, headers=stale)
    assert assert_error(response, 412, "precondition-failed")["currentETag"] == '"2"'
    assert await _etag(client, order_id) == '"2"'
    assert await _history_len(client, order_id) == 2


@pytest.mark.parametrize(
    "header",
    [
        "*",
        " * ",
        '"2"',
        'W/"2"',
        '"1", "2"',
        '"2","9"',
        'W/"1", W/"2"',
        '"7" , W/"2" ,"8"',
    ],
)
async def test_if_match_forms_that_match(client: httpx.AsyncClient, header: str) -> None:
    order_id = await _order_at_version(client, 2)
    response = await client.put(
        f"{ORDERS}/{order_id}/reference", json="matched", headers={"If-Match": header}
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"3"'
    assert (await get_order(client, order_id))["reference"] == "matched"


@pytest.mark.parametrize(
    "header", ["2", "'2'", '"2', '2"', "W/2", 'w/"2"', '"2" "3"', '"2";', "**", '*, "2"', ""]
)
async def test_malformed_if_match_is_invalid_request(
    client: httpx.AsyncClient, header: str
) -> None:
    order_id = await _order_at_version(client, 2)
    response = await client.patch(
        f"{ORDERS}/{order_id}/attributes", json={"bad": True}, headers={"If-Match": header}
    )
    error = assert_error(response, 400, "invalid-request")
    if "errors" in error:
        assert [p.lower() for p in field_paths(error)] == ["header:if-match"]
    assert "bad" not in (await get_order(client, order_id))["attributes"]
    assert await _etag(client, order_id) == '"2"'


async def test_delete_with_matching_if_match(client: httpx.AsyncClient) -> None:
    order_id = await _order_at_version(client, 2)
    response = await client.delete(f"{ORDERS}/{order_id}", headers={"If-Match": '"2"'})
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert "etag" not in response.headers
    assert_error(await client.get(f"{ORDERS}/{order_id}"), 404, "order-not-found")


async def test_no_op_write_keeps_the_etag(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client, {"reference": "same", "attributes": {"a": 1}})
    base = f"{ORDERS}/{order_id}"
    before = await get_order(client, order_id)
    for method, url, body in [
        ("PATCH", f"{base}/attributes", {"a": 1}),
        ("PATCH", f"{base}/attributes", {}),
        ("PUT", f"{base}/reference", "same"),
        ("PUT", f"{base}/state", {"currentStatus": "checkout"}),
        ("PUT", f"{base}/state", {"currentStatus": "CHECKOUT"}),
    ]:
        response = await client.request(method, url, json=body, headers={"If-Match": '"1"'})
        assert response.status_code == 200, (url, response.text)
        assert response.headers["etag"] == '"1"', url
    after = await get_order(client, order_id)
    assert after == before
    assert after["lastModified"] == before["lastModified"]
    assert await _history_len(client, order_id) == 1


async def test_no_op_write_with_stale_if_match_is_still_refused(
    client: httpx.AsyncClient,
) -> None:
    order_id = await _order_at_version(client, 2)
    response = await client.put(
        f"{ORDERS}/{order_id}/state",
        json={"currentStatus": "checkout"},
        headers={"If-Match": '"1"'},
    )
    assert assert_error(response, 412, "precondition-failed")["currentETag"] == '"2"'


async def test_if_match_ignored_on_create(client: httpx.AsyncClient) -> None:
    # If-Match applies to writes on an existing order; a create has no version to compare
    response = await client.post(ORDERS, json={}, headers={"If-Match": '"5"'})
    assert response.status_code == 201, response.text
    assert response.headers["etag"] == '"1"'


async def test_etag_follows_each_version_read_after_write(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    url = f"{ORDERS}/{order_id}/attributes"
    etag = '"1"'
    for n in range(2, 6):
        response = await client.patch(url, json={f"k{n}": n}, headers={"If-Match": etag})
        assert response.status_code == 200, response.text
        etag = response.headers["etag"]
        assert etag == f'"{n}"'
    history = await client.get(f"{ORDERS}/{order_id}/history")
    assert [e["sequence"] for e in history.json()] == [1, 2, 3, 4, 5]
