"""Alembic, driven from code: ``kassa migrate`` and the readiness check use these helpers."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection

from kassa.db.engine import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(db: Database) -> None:
    await db.write(_upgrade)


def _known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


async def is_current(db: Database) -> bool:
    """The schema has what this release needs: its own latest revision, or a later one that it
    does not know (a newer release migrated first; migrations only expand the schema within a
    release, so this one keeps working during a rolling upgrade — docs/deployment.md)."""
    current = await db.read(_current)
    if current is None:
        return False
    return current == head_revision() or not _known(current)
