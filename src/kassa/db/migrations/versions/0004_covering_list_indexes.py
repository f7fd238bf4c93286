"""carry order totals in the created and status indexes (index-only count and valueSum)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TENANT = ["merchant", "channel"]
_TOTALS = ["total_units", "total_micros"]


def upgrade() -> None:
    op.drop_index("ix_orders_created", table_name="orders")
    op.drop_index("ix_orders_status", table_name="orders")
    op.create_index("ix_orders_created", "orders", [*_TENANT, "created", "id", *_TOTALS])
    op.create_index("ix_orders_status", "orders", [*_TENANT, "status", "created", *_TOTALS])


def downgrade() -> None:
    op.drop_index("ix_orders_created", table_name="orders")
    op.drop_index("ix_orders_status", table_name="orders")
    op.create_index("ix_orders_created", "orders", [*_TENANT, "created", "id"])
    op.create_index("ix_orders_status", "orders", [*_TENANT, "status", "created"])
