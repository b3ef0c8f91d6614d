"""shipments: a package sent with its tracking code (orders.shipment_id)

Follows 0020, the head when it landed (0017 shipping, then 0020, were there first).

Revision ID: 0018
Revises: 0020
Create Date: 2026-12-07 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shipment",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tracking", sa.String(length=64), nullable=False),
        sa.Column("carrier", sa.String(length=40), nullable=False),
        sa.Column("shipped_by", sa.String(length=80), nullable=False),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("shipment_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_orders_shipment", "shipment", ["shipment_id"], ["id"])
        batch.create_index("ix_orders_shipment_id", ["shipment_id"])


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_shipment_id")
        batch.drop_constraint("fk_orders_shipment", type_="foreignkey")
        batch.drop_column("shipment_id")
    op.drop_table("shipment")
