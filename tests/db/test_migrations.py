"""The Alembic migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect, select, text
from sqlalchemy.engine import Connection

from kassa.adapters import sandbox_store
from kassa.db import migrate
from kassa.db.engine import Database
from kassa.db.tables import events, metadata


def _declared() -> MetaData:
    """kassa's tables and the sandbox PSP's own (its simulated store, migrated with kassa's)."""
    declared = MetaData()
    for table in [*metadata.tables.values(), sandbox_store.pushes]:
        table.to_metadata(declared)
    return declared


def _differences(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), _declared()))


def _order_indexes(connection: Connection) -> set[str]:
    return {str(ix["name"]) for ix in inspect(connection).get_indexes("orders")}


async def test_migrated_schema_matches_the_declared_tables(db: Database) -> None:
    differences = await db.read(_differences)
    assert differences == []


async def test_every_list_filter_has_an_index(db: Database) -> None:
    names = await db.read(_order_indexes)
    expected = {
        f"ix_orders_{key}"
        for key in [
            "created",
            "status",
            "reference",
            "cart_reference",
            "country",
            "billing_country",
            "shipping_country",
            "billing_email",
            "shipping_email",
            "billing_given",
            "billing_family",
            "billing_name",
            "shipping_given",
            "shipping_family",
            "shipping_name",
            "billing_phone",
            "shipping_phone",
            "cart_total",
        ]
    }
    assert expected <= names


async def test_every_events_filter_has_an_index(db: Database) -> None:
    def indexes(conn: Any) -> dict[str, list[str]]:
        # a statement first: SQLite PRAGMAs read a connection's schema as last loaded, and a
        # connection opened before the migrations may not have looked since
        conn.execute(select(events.c.id).limit(1)).all()
        found = inspect(conn).get_indexes("events")
        return {str(ix["name"]): [str(c) for c in ix["column_names"]] for ix in found}

    found = await db.read(indexes)
    # semantics §13: each filter and the sort of operation 36 is backed by an index
    assert found["ix_events_list"] == ["merchant", "created", "id"]
    assert found["ix_events_merchant_order"] == ["merchant", "order_id"]
    assert found["ix_events_merchant_adapter"] == ["merchant", "adapter_id"]
    assert found["ix_events_merchant_reference"] == ["merchant", "reference"]
    assert found["ix_events_merchant_channel"] == ["merchant", "channel", "created", "id"]
    assert found["ix_events_merchant_status"] == ["merchant", "status", "created", "id"]


async def test_schema_is_at_the_head_revision(db: Database) -> None:
    assert migrate.head_revision() is not None
    assert await migrate.is_current(db) is True


async def test_a_later_revision_is_current_an_earlier_one_is_not(tmp_path: Path) -> None:
    # during a rolling upgrade the previous release runs on the next release's schema
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'revisions.db'}")

    def stamp(revision: str) -> Callable[[Connection], object]:
        return lambda conn: conn.execute(
            text("UPDATE alembic_version SET version_num = :revision"), {"revision": revision}
        )

    try:
        await migrate.upgrade(database)
        assert await migrate.is_current(database) is True
        await database.write(stamp("0001"))  # older: this release needs its migrations
        assert await migrate.is_current(database) is False
        await database.write(stamp("9001_from_a_newer_release"))
        assert await migrate.is_current(database) is True
        await database.write(lambda conn: conn.execute(text("DELETE FROM alembic_version")))
        assert await migrate.is_current(database) is False
    finally:
        await database.dispose()
