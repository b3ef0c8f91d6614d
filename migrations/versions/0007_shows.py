"""shows: run sheets of lots in several chats, and who chatted during them

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 05:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "show",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "show_channel",
        sa.Column("show_id", sa.Integer(), nullable=False),
        sa.Column("chat", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(["show_id"], ["show.id"]),
        sa.PrimaryKeyConstraint("show_id", "chat"),
    )
    op.create_index("ix_show_channel_chat", "show_channel", ["chat"])
    op.create_table(
        "lot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("show_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("close", sa.String(length=8), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("drop_id", sa.Integer(), nullable=True),
        sa.Column("auction_id", sa.Integer(), nullable=True),
        sa.Column("giveaway_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["show_id"], ["show.id"]),
        sa.ForeignKeyConstraint(["drop_id"], ["drops.id"]),
        sa.ForeignKeyConstraint(["auction_id"], ["auction.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("show_id", "position"),
    )
    op.create_table(
        "show_chatter",
        sa.Column("show_id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(length=80), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["show_id"], ["show.id"]),
        sa.PrimaryKeyConstraint("show_id", "identity"),
    )


def downgrade() -> None:
    op.drop_table("show_chatter")
    op.drop_table("lot")
    op.drop_index("ix_show_channel_chat", table_name="show_channel")
    op.drop_table("show_channel")
    op.drop_table("show")
