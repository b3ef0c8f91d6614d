"""product media: a product's picture and description; the picture a board message shows

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch: SQLite cannot add a column with a server default in place on every version
    with op.batch_alter_table("product") as batch:
        batch.add_column(sa.Column("image", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("description", sa.String(), nullable=False, server_default=""))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("image", sa.String(length=500), nullable=True))
    with op.batch_alter_table("board_message") as batch:
        batch.add_column(sa.Column("image", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("board_message") as batch:
        batch.drop_column("image")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("image")
    with op.batch_alter_table("product") as batch:
        batch.drop_column("description")
        batch.drop_column("image")
