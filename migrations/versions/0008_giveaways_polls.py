"""giveaways (a verifiable draw) and polls

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "giveaway",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("commitment", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("winner_number", sa.Integer(), nullable=True),
        sa.Column("winner_name", sa.String(length=40), nullable=False),
        sa.Column("winner_identity", sa.String(length=80), nullable=False),
        sa.Column("winner_chat", sa.String(length=80), nullable=False),
        sa.Column("drop_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("show_id", sa.Integer(), nullable=True),
        sa.Column("started_by", sa.String(length=80), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"]),
        sa.ForeignKeyConstraint(["drop_id"], ["drops.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.ForeignKeyConstraint(["show_id"], ["show.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_giveaway_status_ends", "giveaway", ["status", "ends_at"])
    op.create_table(
        "giveaway_channel",
        sa.Column("giveaway_id", sa.Integer(), nullable=False),
        sa.Column("chat", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(["giveaway_id"], ["giveaway.id"]),
        sa.PrimaryKeyConstraint("giveaway_id", "chat"),
    )
    op.create_index("ix_giveaway_channel_chat", "giveaway_channel", ["chat"])
    op.create_table(
        "giveaway_entry",
        sa.Column("giveaway_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(length=80), nullable=False),
        sa.Column("chat", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["giveaway_id"], ["giveaway.id"]),
        sa.PrimaryKeyConstraint("giveaway_id", "number"),
        sa.UniqueConstraint("giveaway_id", "customer_id"),
    )
    op.create_table(
        "poll",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("show_id", sa.Integer(), nullable=True),
        sa.Column("started_by", sa.String(length=80), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["show_id"], ["show.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_poll_status", "poll", ["status"])
    op.create_table(
        "poll_option",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["poll_id"], ["poll.id"]),
        sa.PrimaryKeyConstraint("poll_id", "number"),
    )
    op.create_table(
        "poll_channel",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("chat", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(["poll_id"], ["poll.id"]),
        sa.PrimaryKeyConstraint("poll_id", "chat"),
    )
    op.create_index("ix_poll_channel_chat", "poll_channel", ["chat"])
    op.create_table(
        "poll_vote",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(length=80), nullable=False),
        sa.Column("choice", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["poll_id"], ["poll.id"]),
        sa.PrimaryKeyConstraint("poll_id", "customer_id"),
    )


def downgrade() -> None:
    op.drop_table("poll_vote")
    op.drop_index("ix_poll_channel_chat", table_name="poll_channel")
    op.drop_table("poll_channel")
    op.drop_table("poll_option")
    op.drop_index("ix_poll_status", table_name="poll")
    op.drop_table("poll")
    op.drop_table("giveaway_entry")
    op.drop_index("ix_giveaway_channel_chat", table_name="giveaway_channel")
    op.drop_table("giveaway_channel")
    op.drop_index("ix_giveaway_status_ends", table_name="giveaway")
    op.drop_table("giveaway")
