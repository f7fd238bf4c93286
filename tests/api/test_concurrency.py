"""Concurrent writes on one order (semantics §10, §11): no lost updates, no gaps in versions and
history, If-Match races end in 412."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.conftest import ORDERS, create_order, get_order
from tests.support.http_asserts import assert_error


async def _history(client: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"{ORDERS}/{order_id}/history")
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


async def test_forty_concurrent_attribute_patches(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    url = f"{ORDERS}/{order_id}/attributes"
    responses = await asyncio.gather(*(client.patch(url, json={f"key{n}": n}) for n in range(40)))
    for response in responses:
        assert response.status_code == 200, response.text
        assert response.content == b""
    # each write committed its own version
    assert sorted(int(r.headers["etag"].strip('"')) for r in responses) == list(range(2, 42))

    response = await client.get(f"{ORDERS}/{order_id}")
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"41"'
    assert response.json()["attributes"] == {f"key{n}": n for n in range(40)}

    history = await _history(client, order_id)
    assert [e["sequence"] for e in history] == list(range(1, 42))
    assert all(e["operation"] == "PatchCheckoutOrderAttributes" for e in history[1:])
    # every write's patch is recorded: together they add each key exactly once
    added = sorted(
        op["path"] for entry in history[1:] for op in entry["patch"] if op["op"] == "add"
    )
    assert len(added) == 40
    times = [e["at"] for e in history]
    assert times == sorted(times)  # write time never decreases (semantics §4.5)


async def test_concurrent_attributes_and_reference_both_survive(
    client: httpx.AsyncClient,
) -> None:
    orders = [await create_order(client) for _ in range(5)]
    calls = []
    for n, order_id in enumerate(orders):
        calls.append(client.patch(f"{ORDERS}/{order_id}/attributes", json={"a": n}))
        calls.append(client.put(f"{ORDERS}/{order_id}/reference", json=f"ref-{n}"))
    responses = await asyncio.gather(*calls)
    for response in responses:
        assert response.status_code == 200, response.text
    for n, order_id in enumerate(orders):
        response = await client.get(f"{ORDERS}/{order_id}")
        assert response.status_code == 200, response.text
        order = response.json()
        assert order["attributes"] == {"a": n}
        assert order["reference"] == f"ref-{n}"
        assert response.headers["etag"] == '"3"'
        assert [e["sequence"] for e in await _history(client, order_id)] == [1, 2, 3]


async def test_concurrent_mixed_writes_lose_nothing(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    base = f"{ORDERS}/{order_id}"
    calls = [client.patch(f"{base}/attributes", json={f"a{n}": n}) for n in range(10)]
    calls += [client.post(f"{base}/consents", json={"id": f"c{n}"}) for n in range(10)]
    calls.append(client.put(f"{base}/reference", json="final"))
    calls.append(client.put(f"{base}/customer/billing", json={"givenName": "Ada"}))
    responses = await asyncio.gather(*calls)
    for response in responses:
        assert response.status_code == 200, response.text
    order = await get_order(client, order_id)
    assert order["attributes"] == {f"a{n}": n for n in range(10)}
    assert sorted(c["id"] for c in order["consents"]) == sorted(f"c{n}" for n in range(10))
    assert order["reference"] == "final"
    assert order["customer"]["billing"] == {"givenName": "Ada"}
    assert [e["sequence"] for e in await _history(client, order_id)] == list(range(1, 24))


async def test_concurrent_if_match_lets_exactly_one_win(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    url = f"{ORDERS}/{order_id}/attributes"
    responses = await asyncio.gather(
        *(client.patch(url, json={f"w{n}": n}, headers={"If-Match": '"1"'}) for n in range(10))
    )
    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1, [r.text for r in responses]
    assert winners[0].headers["etag"] == '"2"'
    for response in responses:
        if response.status_code != 200:
            body = assert_error(response, 412, "precondition-failed")
            assert body["currentETag"] == '"2"'
    order = await get_order(client, order_id)
    assert len(order["attributes"]) == 1
    assert [e["sequence"] for e in await _history(client, order_id)] == [1, 2]


async def test_concurrent_same_consent_creates_conflict_cleanly(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(client)
    url = f"{ORDERS}/{order_id}/consents"
    responses = await asyncio.gather(*(client.post(url, json={"id": "dup"}) for _ in range(8)))
    assert sum(1 for r in responses if r.status_code == 200) == 1
    for response in responses:
        if response.status_code != 200:
            assert_error(response, 409, "consent-already-exists")
    order = await get_order(client, order_id)
    assert [c["id"] for c in order["consents"]] == ["dup"]
