"""Indexes for a store with a long history: a Job's pods by the Job's name (`ctl get pods
-l job-name=X` among 100,000 finished pods), and events by their last time (they expire).

Revision ID: 0008
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_pods_owner_kind_owner_name", "pods", ["owner_kind", "owner_name"])
    op.create_index("ix_events_last_timestamp", "events", ["last_timestamp"])


def downgrade() -> None:
    op.drop_index("ix_events_last_timestamp", table_name="events")
    op.drop_index("ix_pods_owner_kind_owner_name", table_name="pods")
