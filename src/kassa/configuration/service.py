"""Reads and writes of configurations (adapters §3) on behalf of an authenticated ``Call``.

A write is one transaction under the channel's lock (``repository.lock_channel``): read, check
``If-Match``, store, check the channel's count, complete the idempotency claim. Configuration
writes call no hooks, write no history and fire no events, so they do not go through the
order unit of work.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Connection
from starlette.requests import Request

from kassa import http, idempotency, timeutil
from kassa.auth import keys
from kassa.configuration import repository as repo
from kassa.configuration.rules import Configuration, check_count, valid_name
from kassa.errors import ConfigurationNotFound, PreconditionFailed
from kassa.http import Call, PathTenant
from kassa.idempotency import Outcome

JSON = "application/json"


def _array(texts: list[str]) -> bytes:
    return ("[" + ",".join(texts) + "]").encode()


def _tenant(call: Call) -> tuple[str, str]:
    return call.principal.merchant, call.principal.channel


async def list_channels(call: Call) -> list[str]:
    principal = call.principal
    return await call.app.db.read(
        lambda conn: repo.channels(conn, principal.merchant, principal.key_channels)
    )


async def list_configurations(call: Call) -> bytes:
    merchant, channel = _tenant(call)
    stored = await call.app.db.read(lambda conn: repo.list_all(conn, merchant, channel))
    return _array([s.doc for s in stored])


async def read_as_caller(request: Request, tenant: PathTenant, name: str) -> repo.Stored:
    """``GetConfiguration``: authenticate and read in one point read, with the precedence of
    ``http.start_read`` (401, 403), then 404."""
    headers = request.headers
    params = {
        **keys.lookup_params(headers.get("authorization")),
        **repo.get_params(tenant.merchant, tenant.channel or "", name),
    }
    row = await http.app_state(request).db.fetch_one(repo.GET_WITH_KEY_SQL, params)
    keys.path_principal_of(
        row[:6] if row is not None else None,
        merchant=tenant.merchant,
        channel=tenant.channel,
        adapter=headers.get("x-adapterid"),
    )
    assert row is not None  # path_principal_of refuses a missing key
    stored = repo.stored(name, row[6:]) if row[6] is not None else None
    if stored is None or not valid_name(name):
        raise ConfigurationNotFound(name)
    return stored


def _check_if_match(call: Call, stored: repo.Stored | None) -> None:
    """412 unless ``If-Match`` (if sent) names the stored version; a configuration that does
    not exist matches no tag, not even ``*`` (RFC 9110 §13.1.1)."""
    header = call.request.headers.get("if-match")
    if header is None:
        return
    tags = http.parse_if_match(header)
    if stored is None:
        raise PreconditionFailed(None, "configuration")
    if tags is not None and str(stored.version) not in tags:
        raise PreconditionFailed(stored.version, "configuration")


def _put(
    conn: Connection, call: Call, config: Configuration, stored: repo.Stored | None, now: str
) -> tuple[int, bool]:
    """Create or replace one configuration (``stored``: as read under the channel lock);
    (its version, whether it is new). An identical text changes nothing, so its version stays."""
    merchant, channel = _tenant(call)
    if stored is None:
        repo.insert_one(conn, merchant, channel, config.name, config.text, now)
        return 1, True
    if stored.doc == config.text:
        return stored.version, False
    repo.replace(conn, merchant, channel, config.name, stored.version + 1, config.text, now)
    return stored.version + 1, False


async def _write(call: Call, job: Callable[[Connection, str], Outcome]) -> Outcome:
    merchant, channel = _tenant(call)
    now = timeutil.now_text()
    retention = call.app.settings.idempotency_retention

    def transaction(conn: Connection) -> Outcome:
        repo.lock_channel(conn, merchant, channel)
        outcome = job(conn, now)
        idempotency.complete(conn, call.claim, outcome, retention)
        return outcome

    return await call.app.db.write(transaction)


async def put_many(call: Call, configs: list[Configuration]) -> Outcome:
    """C3: set or replace each listed configuration, all or nothing."""

    def job(conn: Connection, now: str) -> Outcome:
        added = False
        for config in configs:
            stored = repo.get(conn, *_tenant(call), config.name)
            added = _put(conn, call, config, stored, now)[1] or added
        if added:
            check_count(repo.count(conn, *_tenant(call)))
        return Outcome(200, _array([c.text for c in configs]), {"Content-Type": JSON})

    return await _write(call, job)


async def put_one(call: Call, config: Configuration) -> Outcome:
    """C6: create or fully replace one configuration; honours ``If-Match``."""

    def job(conn: Connection, now: str) -> Outcome:
        stored = repo.get(conn, *_tenant(call), config.name)
        _check_if_match(call, stored)
        version, added = _put(conn, call, config, stored, now)
        if added:
            check_count(repo.count(conn, *_tenant(call)))
        headers = {"Content-Type": JSON, "ETag": http.etag(version)}
        return Outcome(200, config.text.encode(), headers)

    return await _write(call, job)


async def delete_all(call: Call) -> Outcome:
    """C4: every configuration of the channel."""

    def job(conn: Connection, now: str) -> Outcome:
        repo.delete_all(conn, *_tenant(call))
        return Outcome(204)

    return await _write(call, job)


async def delete_one(call: Call, name: str) -> Outcome:
    """C7: one configuration; 404, then ``If-Match``."""

    def job(conn: Connection, now: str) -> Outcome:
        stored = repo.get(conn, *_tenant(call), name)
        if stored is None:
            raise ConfigurationNotFound(name)
        _check_if_match(call, stored)
        repo.delete_one(conn, *_tenant(call), name)
        return Outcome(204)

    return await _write(call, job)
