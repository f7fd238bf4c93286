"""sandbox_psp_pushes (the sandbox PSP's simulated pushes, adapters §5.5)

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sandbox_psp_pushes",
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("copy", sa.Integer(), nullable=False),
        sa.Column("merchant", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=128), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("payment_id", sa.String(length=32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("psp_reference", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_ms", sa.BigInteger(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("lease_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("event_id", "copy"),
        sa.UniqueConstraint("payment_id", "attempt", "sequence", "copy", name="uq_sandbox_push"),
    )
    op.create_index("ix_sandbox_push_due", "sandbox_psp_pushes", ["done", "due_ms"])
    op.create_index("ix_sandbox_push_payment", "sandbox_psp_pushes", ["payment_id"])


def downgrade() -> None:
    op.drop_index("ix_sandbox_push_payment", table_name="sandbox_psp_pushes")
    op.drop_index("ix_sandbox_push_due", table_name="sandbox_psp_pushes")
    op.drop_table("sandbox_psp_pushes")
