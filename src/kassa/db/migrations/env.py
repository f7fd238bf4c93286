"""Alembic environment: runs on the connection handed over by ``kassa.db.migrate``."""

from __future__ import annotations

from alembic import context

from kassa.db.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `kassa migrate`")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
