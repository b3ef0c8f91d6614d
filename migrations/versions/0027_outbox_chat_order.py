"""outbox chat order: an index on (platform, chat, status, id), so the courier's check that
no older message of the same chat is waiting (adapters/outbox.py DUE) is an index range per
row instead of a scan of the platform's whole backlog (a round over 2,000 pending answers
took about 0.5 s on SQLite, 19 ms with it: #22, the chat path through the outbox)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 21:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_outbox_chat_order", "outbox", ["platform", "chat", "status", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_chat_order", table_name="outbox")
