"""indexes for the channel and status filters of the events list

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_events_merchant_channel", "events", ["merchant", "channel", "created", "id"]
    )
    op.create_index("ix_events_merchant_status", "events", ["merchant", "status", "created", "id"])


def downgrade() -> None:
    op.drop_index("ix_events_merchant_status", table_name="events")
    op.drop_index("ix_events_merchant_channel", table_name="events")
