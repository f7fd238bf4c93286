"""Who may call the Configuration API (adapters §2.1, §9 case 4): the key's merchant is the
path's, the path's channel one of the key's; the tenant headers play no part."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kassa.auth import keys
from kassa.db.engine import Database
from tests.api.configuration.conftest import Key, config, make_key
from tests.conftest import client_for
from tests.support.http_asserts import assert_error


def routes(key: Key, channel: str, merchant: str | None = None) -> list[tuple[str, str]]:
    return [
        ("GET", key.channels(merchant)),
        ("GET", key.url(channel, merchant=merchant)),
        ("PUT", key.url(channel, merchant=merchant)),
        ("DELETE", key.url(channel, merchant=merchant)),
        ("GET", key.url(channel, "a", merchant=merchant)),
        ("PUT", key.url(channel, "a", merchant=merchant)),
        ("DELETE", key.url(channel, "a", merchant=merchant)),
    ]


async def test_another_merchant_is_forbidden(
    cfg_app: FastAPI, cfg: httpx.AsyncClient, k1: Key, db: Database
) -> None:
    other = await make_key(db)
    await cfg.put(k1.url("se", "a"), json=config("a"))
    async with client_for(cfg_app, other.headers) as foreign:
        for method, url in routes(k1, "se"):
            body: Any = config("a") if url.endswith("/a") else [config("a")]
            response = await foreign.request(method, url, json=body if method == "PUT" else None)
            assert_error(response, 403, "forbidden")
    # K1 on merchant m2, even naming its own merchant in x-merchant
    for method, url in routes(k1, "se", merchant=other.merchant):
        response = await cfg.request(method, url, headers={"x-merchant": k1.merchant})
        assert_error(response, 403, "forbidden")
    assert (await cfg.get(k1.url("se", "a"))).json() == config("a")


async def test_a_key_limited_to_channels(cfg_app: FastAPI, db: Database, k1: Key) -> None:
    async with client_for(cfg_app, k1.headers) as admin:
        await admin.put(k1.url("se"), json=[config("a")])
        await admin.put(k1.url("no"), json=[config("a")])
    key, _ = await keys.create_key(db, merchant=k1.merchant, channels=["se"])
    limited = Key(k1.merchant, key)
    async with client_for(cfg_app, limited.headers) as client:
        for method, url in routes(limited, "no")[1:]:
            body = config("a") if url.endswith("/a") else []
            sent = body if method == "PUT" else None
            assert_error(await client.request(method, url, json=sent), 403, "forbidden")
        listed = await client.get(limited.channels())
        assert listed.status_code == 200, listed.text
        assert listed.json() == ["se"]  # only the key's channels
        got = await client.get(limited.url("se", "a"))
        assert got.status_code == 200, got.text
        # x-channel naming a channel the key lacks is ignored, like x-merchant
        ignored = await client.get(
            limited.url("se", "a"), headers={"x-channel": "no", "x-merchant": "nobody"}
        )
        assert ignored.status_code == 200, ignored.text


async def test_missing_unknown_and_revoked_keys(cfg_app: FastAPI, db: Database, k1: Key) -> None:
    async with client_for(cfg_app) as anonymous:
        for method, url in routes(k1, "se"):
            assert_error(await anonymous.request(method, url), 401, "unauthorized")
        bad = {"Authorization": "Bearer kassa_not-a-key"}
        assert_error(await anonymous.get(k1.channels(), headers=bad), 401, "unauthorized")
        # 401 before 403: a foreign merchant with no key is still 401
        assert_error(await anonymous.get(k1.channels("someone")), 401, "unauthorized")
    key, info = await keys.create_key(db, merchant=k1.merchant)
    async with client_for(cfg_app, {"Authorization": key}) as bare:  # the bare key works too
        assert (await bare.get(k1.channels())).status_code == 200
        await keys.revoke_key(db, info.name)
        assert_error(await bare.get(k1.channels()), 401, "unauthorized")


@pytest.mark.parametrize("name", ["has space", "x" * 129, "ä", "a:b"])
async def test_unusable_names_are_not_found(cfg: httpx.AsyncClient, k1: Key, name: str) -> None:
    assert_error(await cfg.get(k1.url("se", name)), 404, "configuration-not-found")
    assert_error(await cfg.delete(k1.url("se", name)), 404, "configuration-not-found")
    response = await cfg.put(k1.url("se", name), json=config(name))
    assert response.status_code in {400, 404}, response.text
    assert response.json()["code"] in {"configuration-not-found", "invalid-configuration"}


async def test_unknown_name_and_long_tenant(cfg: httpx.AsyncClient, k1: Key) -> None:
    assert_error(await cfg.get(k1.url("se", "nothing")), 404, "configuration-not-found")
    assert_error(await cfg.get(k1.url("c" * 129)), 403, "forbidden")  # no such channel can be
    assert_error(await cfg.get(k1.channels("m" * 129)), 403, "forbidden")


async def test_x_adapterid_is_checked(cfg: httpx.AsyncClient, k1: Key) -> None:
    long = {"x-adapterid": "a" * 129}
    assert_error(await cfg.get(k1.channels(), headers=long), 400, "invalid-request")
    assert_error(await cfg.get(k1.url("se"), headers=long), 400, "invalid-request")
    ok = await cfg.get(k1.url("se"), headers={"x-adapterid": "nonpsp_adapter"})
    assert ok.status_code == 200, ok.text
