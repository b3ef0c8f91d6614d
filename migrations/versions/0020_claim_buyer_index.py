"""a buyer's claims in a drop are found by index (the waitlist check of each claim)

Revision ID: 0020
Revises: 0017
Create Date: 2026-12-07 14:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_claim_buyer", "claim", ["drop_id", "customer_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_claim_buyer", table_name="claim")
