"""long chat ids: a YouTube live chat id runs to about 80 characters ("youtube:<liveChatId>"
more), so every column holding a chat takes 160 (#20 item 2)

PostgreSQL only: SQLite does not enforce VARCHAR lengths, and rebuilding its tables (batch
mode) would fail on the foreign keys of existing rows (tables.py `_chat` keeps SQLite's
declared lengths).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 17:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHAT_LENGTH = 160
# (table, column, its length before)
COLUMNS = (
    ("drop_channel", "chat", 80),
    ("claim", "chat", 80),
    ("orders", "chat", 80),
    ("outbox", "chat", 64),
    ("board_message", "chat", 64),
    ("chat_pace", "chat", 64),
    ("chat_inbox", "chat", 64),
    ("show_channel", "chat", 80),
    ("auction", "leader_chat", 80),
    ("auction_channel", "chat", 80),
    ("bid", "chat", 80),
    ("giveaway", "winner_chat", 80),
    ("giveaway_channel", "chat", 80),
    ("giveaway_entry", "chat", 80),
    ("poll_channel", "chat", 80),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, before in COLUMNS:
        op.alter_column(
            table,
            column,
            type_=sa.String(length=CHAT_LENGTH),
            existing_type=sa.String(length=before),
            existing_nullable=False,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, before in COLUMNS:  # fails while a longer chat id is stored
        op.alter_column(
            table,
            column,
            type_=sa.String(length=before),
            existing_type=sa.String(length=CHAT_LENGTH),
            existing_nullable=False,
        )
