"""orders keep their delayed payment's start and their background calls' retry state

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(
            sa.Column("payment_pending_since", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("payment_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("payment_retry_at", sa.DateTime(timezone=True), nullable=True))
    # Delayed payments already under way (their hold cleared, their payment known) are
    # counted from their last change: reconciliation now asks about them too.
    op.execute(
        "UPDATE orders SET payment_pending_since = updated_at"
        " WHERE status IN ('reserved', 'checkout_open') AND hold_expires_at IS NULL"
        " AND payment_ref IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("payment_retry_at")
        batch.drop_column("payment_attempts")
        batch.drop_column("payment_pending_since")
