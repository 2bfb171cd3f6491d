"""The schema of miniorch 0.1.0: objects, pods, events, meta, nodes, revisions (see `baseline`).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from miniorch.store.migrations import baseline

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    baseline.METADATA.create_all(op.get_bind())


def downgrade() -> None:
    baseline.METADATA.drop_all(op.get_bind())
