"""The ``configurations`` table (adapters §3). Every function takes a synchronous
``Connection`` and is run by ``kassa.db.engine.Database``.

Lists are sorted here in Python, by code point: a PostgreSQL collation would order ``B`` and
``a`` by locale, and the answer must not depend on the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.engine import Connection

from kassa.db.engine import query_one
from kassa.db.tables import configurations as table

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


@dataclass(frozen=True)
class Stored:
    name: str
    version: int
    doc: str


def lock_channel(conn: Connection, merchant: str, channel: str) -> None:
    """Serialise the writes of one channel until the transaction ends, so that a bulk write is
    all-or-nothing against concurrent ones and the per-channel count is exact. SQLite writes
    are serial already (one writer, ``BEGIN IMMEDIATE``)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_LOCK, {"key": "configurations:" + orjson.dumps([merchant, channel]).decode()})


def channels(conn: Connection, merchant: str, only: tuple[str, ...] | None) -> list[str]:
    """The merchant's channels that hold a configuration (``only``: among these)."""
    query = select(table.c.channel).where(table.c.merchant == merchant).distinct()
    if only is not None:
        query = query.where(table.c.channel.in_(only))
    return sorted(str(row[0]) for row in conn.execute(query))


def list_all(conn: Connection, merchant: str, channel: str) -> list[Stored]:
    query = select(table.c.name, table.c.version, table.c.doc).where(
        table.c.merchant == merchant, table.c.channel == channel
    )
    found = [Stored(row.name, row.version, row.doc) for row in conn.execute(query)]
    return sorted(found, key=lambda stored: stored.name)


# one configuration by primary key, in plain SQL (``kassa.db.engine.query_one``): every adapter
# request reads its configuration (adapters.md §2.4), and building and compiling the same
# statement with SQLAlchemy each time costs many times the lookup
GET_SQL = (
    "SELECT version, doc FROM configurations"
    " WHERE merchant = :merchant AND channel = :channel AND name = :name"
)


# keys.LOOKUP's six columns and the configuration they would read (null: none): a read of one
# configuration authenticates in the same statement (as an order read does)
GET_WITH_KEY_SQL = (
    "SELECT k.name, k.merchant, k.channels, k.adapter_id, k.created, k.revoked,"
    " c.version, c.doc FROM api_keys k LEFT JOIN configurations c"
    " ON c.merchant = :merchant AND c.channel = :channel AND c.name = :name"
    " WHERE k.key_hash = :key_hash"
)


def get_params(merchant: str, channel: str, name: str) -> dict[str, str]:
    return {"merchant": merchant, "channel": channel, "name": name}


def stored(name: str, row: Sequence[Any] | None) -> Stored | None:
    return None if row is None else Stored(name, int(row[0]), str(row[1]))


def get(conn: Connection, merchant: str, channel: str, name: str) -> Stored | None:
    return stored(name, query_one(conn, GET_SQL, get_params(merchant, channel, name)))


def count(conn: Connection, merchant: str, channel: str) -> int:
    query = select(func.count()).where(table.c.merchant == merchant, table.c.channel == channel)
    return int(conn.execute(query).scalar_one())


def insert_one(
    conn: Connection, merchant: str, channel: str, name: str, doc: str, now: str
) -> None:
    conn.execute(
        insert(table).values(
            merchant=merchant,
            channel=channel,
            name=name,
            version=1,
            doc=doc,
            created=now,
            updated=now,
        )
    )


def replace(
    conn: Connection, merchant: str, channel: str, name: str, version: int, doc: str, now: str
) -> None:
    """Store ``doc`` as ``version`` (the caller read ``version - 1`` under the channel lock)."""
    conn.execute(
        update(table)
        .where(table.c.merchant == merchant, table.c.channel == channel, table.c.name == name)
        .values(version=version, doc=doc, updated=now)
    )


def delete_one(conn: Connection, merchant: str, channel: str, name: str) -> None:
    conn.execute(
        delete(table).where(
            table.c.merchant == merchant, table.c.channel == channel, table.c.name == name
        )
    )


def delete_all(conn: Connection, merchant: str, channel: str) -> None:
    conn.execute(delete(table).where(table.c.merchant == merchant, table.c.channel == channel))
