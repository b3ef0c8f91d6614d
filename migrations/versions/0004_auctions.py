"""auctions, bids, strikes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 03:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("variant_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("start_minor", sa.BigInteger(), nullable=False),
        sa.Column("reserve_minor", sa.BigInteger(), nullable=True),
        sa.Column("ladder", sa.String(length=200), nullable=False),
        sa.Column("close", sa.String(length=8), nullable=False),
        sa.Column("soft_seconds", sa.Integer(), nullable=False),
        sa.Column("pay_seconds", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=True),
        sa.Column("leader_customer_id", sa.Integer(), nullable=True),
        sa.Column("leader_identity", sa.String(length=80), nullable=False),
        sa.Column("leader_chat", sa.String(length=80), nullable=False),
        sa.Column("leader_max_minor", sa.BigInteger(), nullable=False),
        sa.Column("bid_count", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("drop_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("started_by", sa.String(length=80), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["drop_id"],
            ["drops.id"],
        ),
        sa.ForeignKeyConstraint(
            ["leader_customer_id"],
            ["customer.id"],
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["product.id"],
        ),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["variant.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_auction_status_ends", "auction", ["status", "ends_at"])

    op.create_table(
        "strike",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("cause", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id"),
    )
    op.create_index("ix_strike_customer_id", "strike", ["customer_id"])

    op.create_table(
        "auction_channel",
        sa.Column("auction_id", sa.Integer(), nullable=False),
        sa.Column("chat", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["auction_id"],
            ["auction.id"],
        ),
        sa.PrimaryKeyConstraint("auction_id", "chat"),
    )
    op.create_index("ix_auction_channel_chat", "auction_channel", ["chat"])

    op.create_table(
        "bid",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("auction_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(length=80), nullable=False),
        sa.Column("chat", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["auction_id"],
            ["auction.id"],
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("auction_id", "seq"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_bid_auction_id", "bid", ["auction_id"])


def downgrade() -> None:
    op.drop_index("ix_bid_auction_id", table_name="bid")

    op.drop_table("bid")
    op.drop_index("ix_auction_channel_chat", table_name="auction_channel")

    op.drop_table("auction_channel")
    op.drop_index("ix_strike_customer_id", table_name="strike")

    op.drop_table("strike")
    op.drop_index("ix_auction_status_ends", table_name="auction")

    op.drop_table("auction")
