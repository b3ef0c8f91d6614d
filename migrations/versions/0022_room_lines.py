"""room lines: a web chat room's latest public lines, for whoever joins after a restart

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 15:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "room_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room", sa.String(length=64), nullable=False),
        sa.Column("line", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_room_line_room_id", "room_line", ["room", "id"])


def downgrade() -> None:
    op.drop_index("ix_room_line_room_id", table_name="room_line")
    op.drop_table("room_line")
