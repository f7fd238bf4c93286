"""notification events (outbox), delivery attempts and named leases

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

KEY = 512


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("merchant", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=128), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("order_version", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.String(length=32), nullable=False),
        sa.Column("adapter_id", sa.String(length=KEY)),
        sa.Column("reference", sa.String(length=KEY)),
        sa.Column("description", sa.Text()),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("invoke", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created", sa.String(length=24), nullable=False),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", sa.String(length=24)),
        sa.Column("last_status_code", sa.Integer()),
        sa.Column("next_attempt_ms", sa.BigInteger()),
        sa.Column("first_attempt_ms", sa.BigInteger()),
        sa.Column("terminal_ms", sa.BigInteger()),
        sa.Column("manual", sa.Integer(), nullable=False),
        sa.Column("replay", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64)),
        sa.Column("lease_until_ms", sa.BigInteger()),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_events_order_sequence", "events", ["order_id", "sequence"], unique=True)
    op.create_index("ix_events_due", "events", ["status", "next_attempt_ms"])
    op.create_index("ix_events_list", "events", ["merchant", "created", "id"])
    op.create_index("ix_events_merchant_order", "events", ["merchant", "order_id"])
    op.create_index("ix_events_merchant_adapter", "events", ["merchant", "adapter_id"])
    op.create_index("ix_events_merchant_reference", "events", ["merchant", "reference"])
    op.create_index("ix_events_terminal", "events", ["terminal_ms"])
    op.create_table(
        "event_attempts",
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.String(length=24), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("error", sa.Text()),
        sa.Column("response_excerpt", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "number"),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_table("event_attempts")
    for name in ("terminal", "merchant_reference", "merchant_adapter", "merchant_order"):
        op.drop_index(f"ix_events_{name}", table_name="events")
    for name in ("list", "due", "order_sequence"):
        op.drop_index(f"ix_events_{name}", table_name="events")
    op.drop_table("events")
