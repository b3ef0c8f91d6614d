"""shipping: zones, a product's size class, a show's shipping policy, bundles (one package
per buyer, address and show or window) and an order's bundle, shipping and tax

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 14:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shipping_zones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("countries", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("first_minor", sa.BigInteger(), nullable=False),
        sa.Column("each_minor", sa.BigInteger(), nullable=False),
        sa.Column("cap_minor", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "bundles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lock_key", sa.String(length=160), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("ship_to", sa.Text(), nullable=False),
        sa.Column("show_id", sa.Integer(), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("zone", sa.String(length=40), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("policy", sa.String(length=32), nullable=False),
        sa.Column("first_minor", sa.BigInteger(), nullable=False),
        sa.Column("each_minor", sa.BigInteger(), nullable=False),
        sa.Column("cap_minor", sa.BigInteger(), nullable=True),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("charged_minor", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.ForeignKeyConstraint(["show_id"], ["show.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("lock_key"),
    )
    op.create_index("ix_bundles_customer_id", "bundles", ["customer_id"])
    op.create_index("ix_bundles_show_id", "bundles", ["show_id"])
    with op.batch_alter_table("product") as batch:
        batch.add_column(sa.Column("ship_units", sa.Integer(), server_default="1", nullable=False))
    with op.batch_alter_table("show") as batch:
        batch.add_column(
            sa.Column("shipping", sa.String(length=32), server_default="buyer", nullable=False)
        )
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("bundle_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("shipping_amount", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("tax_amount", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch.create_foreign_key("fk_orders_bundle_id", "bundles", ["bundle_id"], ["id"])
        batch.create_index("ix_orders_bundle_id", ["bundle_id"])


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_bundle_id")
        batch.drop_constraint("fk_orders_bundle_id", type_="foreignkey")
        batch.drop_column("tax_amount")
        batch.drop_column("shipping_amount")
        batch.drop_column("bundle_id")
    with op.batch_alter_table("show") as batch:
        batch.drop_column("shipping")
    with op.batch_alter_table("product") as batch:
        batch.drop_column("ship_units")
    op.drop_index("ix_bundles_show_id", table_name="bundles")
    op.drop_index("ix_bundles_customer_id", table_name="bundles")
    op.drop_table("bundles")
    op.drop_table("shipping_zones")
