"""payer: the card fingerprint and Checkout email a paid order was paid with, and a saved
card's fingerprint; per-buyer limits and strikes follow them across identities (#18 item 3)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 17:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("card_fingerprint", sa.String(length=64), nullable=True))
    op.add_column("orders", sa.Column("payer_email", sa.String(length=254), nullable=True))
    op.create_index("ix_orders_card_fingerprint", "orders", ["card_fingerprint"])
    op.create_index("ix_orders_payer_email", "orders", ["payer_email"])
    op.add_column("saved_card", sa.Column("fingerprint", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("saved_card") as batch:
        batch.drop_column("fingerprint")
    op.drop_index("ix_orders_payer_email", table_name="orders")
    op.drop_index("ix_orders_card_fingerprint", table_name="orders")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("payer_email")
        batch.drop_column("card_fingerprint")
