"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 03:27:12.667205
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("merchant", sa.String(length=128), nullable=False),
        sa.Column("channels", sa.Text(), nullable=True),
        sa.Column("adapter_id", sa.String(length=128), nullable=True),
        sa.Column("created", sa.String(length=24), nullable=False),
        sa.Column("revoked", sa.String(length=24), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "history",
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "sequence"),
    )
    op.create_table(
        "idempotency",
        sa.Column("merchant", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("headers", sa.Text(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("merchant", "key"),
    )
    with op.batch_alter_table("idempotency", schema=None) as batch_op:
        batch_op.create_index("ix_idempotency_expires", ["expires_at"], unique=False)

    op.create_table(
        "order_payments",
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("payment_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "payment_id"),
    )
    with op.batch_alter_table("order_payments", schema=None) as batch_op:
        batch_op.create_index("ix_order_payments_payment", ["payment_id"], unique=False)

    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("merchant", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.Column("meta", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created", sa.String(length=24), nullable=False),
        sa.Column("reference", sa.String(length=512), nullable=True),
        sa.Column("cart_reference", sa.String(length=512), nullable=True),
        sa.Column("country", sa.String(length=8), nullable=True),
        sa.Column("billing_country", sa.String(length=8), nullable=True),
        sa.Column("shipping_country", sa.String(length=8), nullable=True),
        sa.Column("billing_email", sa.String(length=512), nullable=True),
        sa.Column("shipping_email", sa.String(length=512), nullable=True),
        sa.Column("billing_given", sa.String(length=512), nullable=True),
        sa.Column("billing_family", sa.String(length=512), nullable=True),
        sa.Column("billing_name", sa.String(length=512), nullable=True),
        sa.Column("shipping_given", sa.String(length=512), nullable=True),
        sa.Column("shipping_family", sa.String(length=512), nullable=True),
        sa.Column("shipping_name", sa.String(length=512), nullable=True),
        sa.Column("billing_phone", sa.String(length=512), nullable=True),
        sa.Column("shipping_phone", sa.String(length=512), nullable=True),
        sa.Column("cart_total_units", sa.BigInteger(), nullable=False),
        sa.Column("cart_total_micros", sa.Integer(), nullable=False),
        sa.Column("total_units", sa.BigInteger(), nullable=False),
        sa.Column("total_micros", sa.Integer(), nullable=False),
        sa.Column("search", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:

    op.drop_table("orders")
    with op.batch_alter_table("order_payments", schema=None) as batch_op:
        batch_op.drop_index("ix_order_payments_payment")

    op.drop_table("order_payments")
    with op.batch_alter_table("idempotency", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_expires")

    op.drop_table("idempotency")
    op.drop_table("history")
    op.drop_table("api_keys")
