"""operators, console sessions and login failures; the orders' currency column and an index
of a merchant's orders by creation across channels (the operator console)

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("merchant", sa.String(length=128), nullable=False),
        sa.Column("channels", sa.Text(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created", sa.String(length=24), nullable=False),
        sa.Column("disabled", sa.String(length=24), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("operator", sa.String(length=128), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("seen_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_console_sessions_operator", "console_sessions", ["operator"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_failures_key", "login_failures", ["key", "at_ms"])
    # the order's currency as a column, for the console's currency filter
    op.add_column("orders", sa.Column("currency", sa.String(length=8), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE orders SET currency = upper(left(doc::json->>'currency', 8))")
    else:
        op.execute(
            "UPDATE orders SET currency = upper(substr(json_extract(doc, '$.currency'), 1, 8))"
        )
    op.create_index(
        "ix_orders_merchant_created",
        "orders",
        ["merchant", "created", "id", "total_units", "total_micros"],
    )


def downgrade() -> None:
    op.drop_index("ix_orders_merchant_created", table_name="orders")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("currency")
    op.drop_index("ix_login_failures_key", table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index("ix_console_sessions_operator", table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_table("operators")
