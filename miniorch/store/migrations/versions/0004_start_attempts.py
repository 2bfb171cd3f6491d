"""A pod's refused container starts: how many, and the last one's time (retried with backoff,
then failed as a counted run; `reconcile.startretry`).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pods") as batch:
        batch.add_column(sa.Column("start_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_attempt_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("pods") as batch:
        batch.drop_column("last_attempt_at")
        batch.drop_column("start_attempts")
