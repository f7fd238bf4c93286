"""indexes for every list filter and sort key of the orders table

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TENANT = ["merchant", "channel"]
INDEXES = {
    "created": ["created", "id"],
    "status": ["status", "created"],
    "reference": ["reference"],
    "cart_reference": ["cart_reference"],
    "country": ["country"],
    "billing_country": ["billing_country"],
    "shipping_country": ["shipping_country"],
    "billing_email": ["billing_email"],
    "shipping_email": ["shipping_email"],
    "billing_given": ["billing_given"],
    "billing_family": ["billing_family"],
    "billing_name": ["billing_name"],
    "shipping_given": ["shipping_given"],
    "shipping_family": ["shipping_family"],
    "shipping_name": ["shipping_name"],
    "billing_phone": ["billing_phone"],
    "shipping_phone": ["shipping_phone"],
    "cart_total": ["cart_total_units", "cart_total_micros"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(f"ix_orders_{name}", "orders", [*_TENANT, *columns])


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(f"ix_orders_{name}", table_name="orders")
