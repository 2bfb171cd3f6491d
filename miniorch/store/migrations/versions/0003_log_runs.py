"""Stored log tails keep Docker's timestamps and where each run of a container began
(`ctl logs --timestamps/--since/--previous` on removed containers).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pods") as batch:
        # Rows written before this revision hold untimestamped tails: false, as they are.
        batch.add_column(sa.Column("log_timestamped", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("run_started_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("previous_run_started_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("pods") as batch:
        for name in ("previous_run_started_at", "run_started_at", "log_timestamped"):
            batch.drop_column(name)
