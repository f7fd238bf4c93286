"""The outbound transport of delivery (semantics §12): connection pools per destination."""

from __future__ import annotations

import asyncio

import httpx

from kassa.delivery.transport import PerDestinationTransport
from tests.support.receiver import Receiver


async def test_per_destination_pools_limit_connections_and_are_evicted() -> None:
    slow, other = Receiver(delay=0.1), Receiver()
    await slow.start()
    await other.start()
    transport = PerDestinationTransport(per_destination=2, max_destinations=1)
    busiest = 0
    try:
        async with httpx.AsyncClient(transport=transport) as client:
            posts = [
                asyncio.create_task(client.post(slow.base + "/x", content=b"{}")) for _ in range(6)
            ]
            while not all(p.done() for p in posts):
                busiest = max(busiest, len(slow._tasks))
                await asyncio.sleep(0.005)
            assert [p.result().status_code for p in posts] == [200] * 6
            response = await client.post(other.base + "/y", content=b"{}")
            assert response.status_code == 200
            assert len(transport._pools) == 1  # the idle pool of the first receiver was closed
    finally:
        await slow.stop()
        await other.stop()
    assert 1 <= busiest <= 2
    assert len(slow.requests) == 6 and len(other.requests) == 1
