"""chat updates stored before they are acknowledged, processed in order per chat

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_inbox",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("update_id", sa.String(length=64), nullable=False),
        sa.Column("chat", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("taken_by", sa.String(length=120), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("platform", "update_id"),
    )
    op.create_index("ix_chat_inbox_pending", "chat_inbox", ["platform", "done", "chat", "seq"])
    op.create_index("ix_chat_inbox_received", "chat_inbox", ["received_at"])
    op.drop_table("inbound_update")  # the inbox's key does its work (an update stored once)


def downgrade() -> None:
    op.create_table(
        "inbound_update",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("update_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "update_id"),
    )
    op.drop_index("ix_chat_inbox_received", table_name="chat_inbox")
    op.drop_index("ix_chat_inbox_pending", table_name="chat_inbox")
    op.drop_table("chat_inbox")
