"""Writes through v0 and v1 race as writes through one path do (v1.md §4.1 rules 3, 4, 7, 10):
one version sequence, one history, If-Match races end in 412, limits counted per order."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import create_order
from tests.support.http_asserts import assert_error
from tests.support.v1 import V0, V1, history, read, read_both


async def test_concurrent_writes_through_both_paths_lose_nothing(
    client: httpx.AsyncClient,
) -> None:
    order_id = await create_order(client)
    calls = [
        client.patch(f"{base}/{order_id}/attributes", json={f"k{n}": n})
        for n, base in enumerate([V0, V1] * 10)
    ]
    responses = await asyncio.gather(*calls)
    for response in responses:
        assert response.status_code == 200, response.text
    assert sorted(int(r.headers["etag"].strip('"')) for r in responses) == list(range(2, 22))
    order = await read_both(client, f"/{order_id}")
    assert order["attributes"] == {f"k{n}": n for n in range(20)}
    assert (await read(client, f"{V1}/{order_id}")).headers["etag"] == '"21"'
    entries = await history(client, V1, order_id)
    assert [e["sequence"] for e in entries] == list(range(1, 22))
    assert {e["operation"] for e in entries[1:]} == {"PatchCheckoutOrderAttributes"}


async def test_concurrent_if_match_across_paths_lets_one_win(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    responses = await asyncio.gather(
        *(
            client.put(f"{base}/{order_id}/reference", json=f"r{n}", headers={"If-Match": '"1"'})
            for n, base in enumerate([V0, V1] * 4)
        )
    )
    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1, [r.text for r in responses]
    assert winners[0].headers["etag"] == '"2"'
    for response in responses:
        if response.status_code != 200:
            assert assert_error(response, 412, "precondition-failed")["currentETag"] == '"2"'
    assert [e["sequence"] for e in await history(client, V0, order_id)] == [1, 2]


async def test_limits_count_elements_added_through_either_path(client: httpx.AsyncClient) -> None:
    order_id = await create_order(client)
    action = {"adapterId": "a", "type": "t", "url": "https://x.example"}
    response = await client.post(f"{V0}/{order_id}/payments", json={"actions": [action] * 49})
    assert response.status_code == 201, response.text
    url = f"/{order_id}/payments/{response.json()['id']}/actions"
    response = await client.post(V1 + url, json=[action])
    assert response.status_code == 200, response.text
    assert_error(await client.post(V1 + url, json=[action]), 400, "limit-exceeded")
    assert_error(await client.post(V0 + url, json=[action]), 400, "limit-exceeded")
