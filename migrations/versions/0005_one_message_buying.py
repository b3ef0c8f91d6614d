"""one-message buying: saved cards, link codes, confirm rules, promo drops

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 05:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saved_card",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("payment_customer", sa.String(length=80), nullable=False),
        sa.Column("payment_method", sa.String(length=80), nullable=False),
        sa.Column("brand", sa.String(length=20), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_table(
        "link_code",
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(length=80), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_by", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("code"),
    )
    with op.batch_alter_table("drops") as batch:
        batch.add_column(
            sa.Column("confirm", sa.String(length=24), nullable=False, server_default="always")
        )
        batch.add_column(
            sa.Column("promo", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("confirm_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("charge_attempt", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("charge_attempt")
        batch.drop_column("confirm_until")
    with op.batch_alter_table("drops") as batch:
        batch.drop_column("promo")
        batch.drop_column("confirm")
    op.drop_table("link_code")
    op.drop_table("saved_card")
