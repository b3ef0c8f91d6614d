"""web chat viewers: server-issued identities (the cookie's secret kept only as a hash)

Revision ID: 0021
Revises: 0018
Create Date: 2026-12-07 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_viewer",
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=32), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("secret_hash"),
        sa.UniqueConstraint("public_id"),
    )


def downgrade() -> None:
    op.drop_table("web_viewer")
