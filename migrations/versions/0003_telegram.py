"""bot contacts (who started a private chat with the bot)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 03:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bot_contact",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("identity", sa.String(length=80), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "identity"),
    )


def downgrade() -> None:
    op.drop_table("bot_contact")
