"""Indexes for a store with a long history: a Job's pods by the Job's name (`ctl get pods
-l job-name=X` among 100,000 finished pods). Events by their last time (they expire) come from 0006.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_pods_owner_kind_owner_name", "pods", ["owner_kind", "owner_name"])


def downgrade() -> None:
    op.drop_index("ix_pods_owner_kind_owner_name", table_name="pods")
