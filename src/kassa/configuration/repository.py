"""The ``configurations`` table (adapters §3). Every function takes a synchronous
``Connection`` and is run by ``kassa.db.engine.Database``.

Lists are sorted here in Python, by code point: a PostgreSQL collation would order ``B`` and
``a`` by locale, and the answer must not depend on the server.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.engine import Connection

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


def get(conn: Connection, merchant: str, channel: str, name: str) -> Stored | None:
    query = select(table.c.version, table.c.doc).where(
        table.c.merchant == merchant, table.c.channel == channel, table.c.name == name
    )
    row = conn.execute(query).first()
    return None if row is None else Stored(name, row.version, row.doc)


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
