"""Configuration API routes C1-C7 (adapters §3.2, §9 cases 1, 2 and 4): round trip, bulk
writes, deletes, versions."""

from __future__ import annotations

import asyncio

import httpx

from tests.api.configuration.conftest import NORCE_SCHEMA, Key, config
from tests.support.http_asserts import assert_error


async def test_round_trip_without_tenant_headers(cfg: httpx.AsyncClient, k1: Key) -> None:
    raw = (
        '{"$schema":"' + NORCE_SCHEMA + '","id":"nonpsp_adapter","active":true,"methods":'
        '[{"identifier":"invoice","preSelected":true},{"identifier":"card"}],'
        '"extraKey":{"kept":[1,"two",null]},"ratio":0.10,"big":1E+2}'
    )
    put = await cfg.put(
        k1.url("se", "nonpsp_adapter"), content=raw, headers={"Content-Type": "application/json"}
    )
    assert put.status_code == 200, put.text
    assert put.headers["etag"] == '"1"'
    assert put.headers["content-type"] == "application/json"
    expected = raw.replace("0.10", "0.1").replace("1E+2", "100")
    assert put.text == expected  # as sent, key order kept, numbers canonical
    got = await cfg.get(k1.url("se", "nonpsp_adapter"))
    assert got.status_code == 200, got.text
    assert got.text == expected
    assert got.headers["etag"] == '"1"'
    listed = await cfg.get(k1.url("se"))
    assert listed.status_code == 200, listed.text
    assert listed.json() == [got.json()]
    channels = await cfg.get(k1.channels())
    assert channels.status_code == 200, channels.text
    assert channels.json() == ["se"]


async def test_empty_lists(cfg: httpx.AsyncClient, k1: Key) -> None:
    channels = await cfg.get(k1.channels())
    assert channels.status_code == 200, channels.text
    assert channels.json() == []
    listed = await cfg.get(k1.url("se"))
    assert listed.status_code == 200, listed.text
    assert listed.json() == []


async def test_put_replaces_and_counts_versions(cfg: httpx.AsyncClient, k1: Key) -> None:
    url = k1.url("se", "a")
    first = await cfg.put(url, json=config("a", old=True, active=True))
    assert first.status_code == 200, first.text
    second = await cfg.put(url, json=config("a", new=1))
    assert second.status_code == 200, second.text
    assert second.headers["etag"] == '"2"'
    assert second.json() == config("a", new=1)  # replaced, never merged
    same = await cfg.put(url, json=config("a", new=1))
    assert same.status_code == 200, same.text
    assert same.headers["etag"] == '"2"'  # nothing changed: the version stays
    got = await cfg.get(url)
    assert got.json() == config("a", new=1)
    assert got.headers["etag"] == '"2"'


async def test_bulk_put_is_partial_and_all_or_nothing(cfg: httpx.AsyncClient, k1: Key) -> None:
    url = k1.url("web")
    a, b = config("A", n=1), config("B", n=1)
    put = await cfg.put(url, json=[b, a])
    assert put.status_code == 200, put.text
    assert put.json() == [b, a]  # request order
    b2, c = config("B", n=2), config("C", n=1)
    put = await cfg.put(url, json=[b2, c])
    assert put.status_code == 200, put.text
    assert put.json() == [b2, c]
    listed = await cfg.get(url)
    assert listed.json() == [a, b2, c]  # A kept, B replaced, C added; ascending by id
    assert (await cfg.get(k1.url("web", "B"))).headers["etag"] == '"2"'
    assert (await cfg.get(k1.url("web", "C"))).headers["etag"] == '"1"'
    # one invalid element: nothing is stored
    bad = await cfg.put(url, json=[config("D"), config("A", n=9), {"id": "E"}])
    body = assert_error(bad, 400, "invalid-configuration")
    assert [e["path"] for e in body["errors"]] == ["/2/$schema"]
    assert (await cfg.get(url)).json() == [a, b2, c]
    # an empty list changes nothing
    empty = await cfg.put(url, json=[])
    assert empty.status_code == 200, empty.text
    assert empty.json() == []
    assert (await cfg.get(url)).json() == [a, b2, c]


async def test_bulk_put_refuses_duplicate_and_unusable_ids(cfg: httpx.AsyncClient, k1: Key) -> None:
    url = k1.url("web")
    body = assert_error(
        await cfg.put(url, json=[config("A"), config("B"), config("A")]),
        400,
        "invalid-configuration",
    )
    assert [e["path"] for e in body["errors"]] == ["/2/id"]
    body = assert_error(
        await cfg.put(url, json=[config("has space")]), 400, "invalid-configuration"
    )
    assert [e["path"] for e in body["errors"]] == ["/0/id"]
    assert (await cfg.get(url)).json() == []


async def test_deletes(cfg: httpx.AsyncClient, k1: Key) -> None:
    await cfg.put(k1.url("se"), json=[config("A"), config("B")])
    await cfg.put(k1.url("no"), json=[config("A")])
    assert (await cfg.get(k1.channels())).json() == ["no", "se"]
    gone = await cfg.delete(k1.url("se", "A"))
    assert gone.status_code == 204, gone.text
    assert gone.content == b""
    assert_error(await cfg.delete(k1.url("se", "A")), 404, "configuration-not-found")
    assert_error(await cfg.get(k1.url("se", "A")), 404, "configuration-not-found")
    assert (await cfg.get(k1.url("se"))).json() == [config("B")]
    # deleting the last one drops the channel from C1
    assert (await cfg.delete(k1.url("se", "B"))).status_code == 204
    assert (await cfg.get(k1.channels())).json() == ["no"]
    cleared = await cfg.delete(k1.url("no"))
    assert cleared.status_code == 204, cleared.text
    assert (await cfg.get(k1.channels())).json() == []
    assert (await cfg.delete(k1.url("no"))).status_code == 204  # nothing left: still 204


async def test_concurrent_writes_of_one_channel_are_serialised(
    cfg: httpx.AsyncClient, k1: Key
) -> None:
    # the same new name twice at once: one creates (version 1), the other replaces (2)
    answers = await asyncio.gather(
        *(cfg.put(k1.url("se", "a"), json=config("a", writer=n)) for n in range(2))
    )
    assert sorted(r.headers["etag"] for r in answers) == ['"1"', '"2"'], [a.text for a in answers]
    # one place left in the channel, two writers: exactly one gets it
    await cfg.put(k1.url("se"), json=[config(f"c{i:02}") for i in range(98)])
    answers = await asyncio.gather(
        *(cfg.put(k1.url("se", f"last{n}"), json=config(f"last{n}")) for n in range(2))
    )
    assert sorted(r.status_code for r in answers) == [200, 400]
    assert len((await cfg.get(k1.url("se"))).json()) == 100
