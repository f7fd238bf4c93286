"""The API conventions on configuration routes (api §1.9-1.11): ETag and If-Match, the
Idempotency-Key, routes and methods, no tenant headers needed."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.api.configuration.conftest import BASE, PREFIX, Key, config
from tests.conftest import ORDERS, client_for
from tests.support.http_asserts import assert_error, field_paths


async def test_if_match_on_replace(cfg: httpx.AsyncClient, k1: Key) -> None:
    url = k1.url("se", "a")
    created = await cfg.put(url, json=config("a"))
    assert created.headers["etag"] == '"1"'
    stale = await cfg.put(url, json=config("a", v=2), headers={"If-Match": '"0"'})
    body = assert_error(stale, 412, "precondition-failed")
    assert body["currentETag"] == '"1"'
    # the current version, weak or strong, in a list, or *: each write moves it on by one
    for version, tag in enumerate(('"1"', 'W/"2"', '"7", "3"', "*"), start=1):
        write = await cfg.put(url, json=config("a", tag=tag), headers={"If-Match": tag})
        assert write.status_code == 200, (tag, write.text)
        assert write.headers["etag"] == f'"{version + 1}"'
    assert (await cfg.get(url)).json() == config("a", tag="*")
    syntax = await cfg.put(url, json=config("a"), headers={"If-Match": "1"})
    assert field_paths(assert_error(syntax, 400, "invalid-request")) == ["header:If-Match"]


async def test_if_match_on_a_new_configuration(cfg: httpx.AsyncClient, k1: Key) -> None:
    for tag in ('"1"', "*"):
        response = await cfg.put(k1.url("se", "new"), json=config("new"), headers={"If-Match": tag})
        body = assert_error(response, 412, "precondition-failed")
        assert "currentETag" not in body  # there is no current version
    assert_error(await cfg.get(k1.url("se", "new")), 404, "configuration-not-found")


async def test_if_match_on_delete(cfg: httpx.AsyncClient, k1: Key) -> None:
    url = k1.url("se", "a")
    await cfg.put(url, json=config("a"))
    await cfg.put(url, json=config("a", v=2))
    stale = await cfg.delete(url, headers={"If-Match": '"1"'})
    assert assert_error(stale, 412, "precondition-failed")["currentETag"] == '"2"'
    assert (await cfg.get(url)).status_code == 200
    deleted = await cfg.delete(url, headers={"If-Match": '"2"'})
    assert deleted.status_code == 204, deleted.text
    # a missing configuration is 404 before If-Match is looked at (api §1.9)
    gone = await cfg.delete(url, headers={"If-Match": '"2"'})
    assert_error(gone, 404, "configuration-not-found")


async def test_idempotent_replay_and_reuse(cfg: httpx.AsyncClient, k1: Key) -> None:
    url = k1.url("se", "a")
    key = {"Idempotency-Key": "cfg-put-1"}
    first = await cfg.put(url, json=config("a", v=1), headers=key)
    assert first.status_code == 200, first.text
    await cfg.put(url, json=config("a", v=2))  # changed since by another write
    again = await cfg.put(url, json=config("a", v=1), headers=key)
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.headers["etag"] == '"1"'
    assert (await cfg.get(url)).json() == config("a", v=2)  # not executed again
    reuse = await cfg.put(url, json=config("a", v=3), headers=key)
    assert_error(reuse, 422, "idempotency-key-reuse")
    other_channel = await cfg.put(k1.url("no", "a"), json=config("a", v=1), headers=key)
    assert_error(other_channel, 422, "idempotency-key-reuse")
    # bulk writes and deletes are idempotent too; a failure releases the key
    bulk_key = {"Idempotency-Key": "cfg-bulk-1"}
    failed = await cfg.put(k1.url("se"), json=[{"id": "b"}], headers=bulk_key)
    assert_error(failed, 400, "invalid-configuration")
    bulk = await cfg.put(k1.url("se"), json=[config("b")], headers=bulk_key)
    assert bulk.status_code == 200, bulk.text
    assert "idempotent-replayed" not in bulk.headers
    delete_key = {"Idempotency-Key": "cfg-delete-1"}
    deleted = await cfg.delete(k1.url("se", "b"), headers=delete_key)
    assert deleted.status_code == 204, deleted.text
    replayed = await cfg.delete(k1.url("se", "b"), headers=delete_key)
    assert replayed.status_code == 204, replayed.text
    assert replayed.headers["idempotent-replayed"] == "true"
    bad_key = await cfg.delete(k1.url("se", "b"), headers={"Idempotency-Key": "with space"})
    assert_error(bad_key, 400, "invalid-request")


async def test_idempotency_fingerprint_leaves_the_prefix_out(
    app: FastAPI, cfg: httpx.AsyncClient, k1: Key
) -> None:
    """The fingerprint's path is the one below the configuration prefix (api §1.10), so the
    same request through a deployment with another layout is the same request."""
    key = {"Idempotency-Key": "cfg-layout-1"}
    first = await cfg.put(k1.url("se", "a"), json=config("a"), headers=key)
    assert first.status_code == 200, first.text
    path = k1.url("se", "a").removeprefix(PREFIX)
    async with client_for(app, k1.headers) as default_layout:  # every prefix empty
        repeat = await default_layout.put(path, json=config("a"), headers=key)
        assert repeat.status_code == 200, repeat.text
        assert repeat.headers["idempotent-replayed"] == "true"
        assert repeat.content == first.content
        assert (await default_layout.get(path)).json() == config("a")


async def test_routes_methods_and_trailing_slash(cfg: httpx.AsyncClient, k1: Key) -> None:
    await cfg.put(k1.url("se", "a"), json=config("a"))
    assert (await cfg.get(k1.url("se", "a") + "/")).json() == config("a")
    assert (await cfg.get(k1.url("se") + "/")).json() == [config("a")]
    not_allowed = await cfg.post(k1.url("se"), json=[])
    assert_error(not_allowed, 405, "method-not-allowed")
    assert not_allowed.headers["allow"] == "DELETE, GET, PUT"
    assert_error(await cfg.patch(k1.url("se", "a"), json={}), 405, "method-not-allowed")
    assert_error(await cfg.get(BASE + f"/{k1.merchant}"), 404, "route-not-found")
    # the default prefix is not served by this app: only /checkout/configuration
    assert_error(
        await cfg.get(f"/api/v1/configuration/merchants/{k1.merchant}/channels"),
        404,
        "route-not-found",
    )
    assert_error(
        await cfg.get(f"/checkout/order/api/v1/configuration/merchants/{k1.merchant}/channels"),
        404,
        "route-not-found",
    )


@pytest.mark.parametrize("prefix", ["", "/checkout/order"])
async def test_order_api_below_its_own_prefix(cfg: httpx.AsyncClient, k1: Key, prefix: str) -> None:
    headers = {"x-merchant": k1.merchant, "x-channel": "se"}
    response = await cfg.get(prefix + ORDERS, headers=headers)
    if prefix:
        assert response.status_code == 200, response.text
    else:
        assert_error(response, 404, "route-not-found")
