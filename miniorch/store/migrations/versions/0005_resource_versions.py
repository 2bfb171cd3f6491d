"""resourceVersion (the Kubernetes API, DESIGN 11): a store-wide counter, each object, pod, event and
node row's version, and a bounded log of the changes a watch streams from.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ROWS = ("objects", "pods", "events", "nodes")


def upgrade() -> None:
    for table in _ROWS:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("resource_version", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_table(
        "changes",
        sa.Column("rv", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("kind", AutoString(), nullable=False),
        sa.Column("namespace", AutoString(), nullable=False),
        sa.Column("name", AutoString(), nullable=False),
        sa.Column("uid", AutoString(), nullable=False),
        sa.Column("type", AutoString(), nullable=False),
    )
    op.create_index("ix_changes_kind", "changes", ["kind"])
    versions = op.create_table(
        "resource_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("current", sa.BigInteger(), nullable=False),
        sa.Column("compacted", sa.BigInteger(), nullable=False),
    )
    # Rows written before this revision are at version 0; a watch starts after them.
    op.bulk_insert(versions, [{"id": 1, "current": 1, "compacted": 0}])


def downgrade() -> None:
    op.drop_table("resource_versions")
    op.drop_index("ix_changes_kind", "changes")
    op.drop_table("changes")
    for table in _ROWS:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("resource_version")
