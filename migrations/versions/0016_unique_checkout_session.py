"""a Checkout Session belongs to one order: orders.checkout_session is unique

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 06:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_orders_checkout_session", table_name="orders")
    op.create_index("ix_orders_checkout_session", "orders", ["checkout_session"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_orders_checkout_session", table_name="orders")
    op.create_index("ix_orders_checkout_session", "orders", ["checkout_session"])
