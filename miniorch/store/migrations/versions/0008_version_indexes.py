"""Covering indexes for the listings that read only (uid, resourceVersion): a Table of 10,000 pods or
20,000 Jobs (the API's kept rows) and the CronJob pass's child Jobs are read from the index alone,
in the listing's order, without the rows' JSON columns.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_pods_versions": ("pods", ["namespace", "name", "uid", "resource_version", "owner_uid"]),
    "ix_objects_versions": ("objects", ["kind", "namespace", "name", "uid", "resource_version"]),
    "ix_objects_owned_versions": ("objects", ["owner_kind", "created_at", "uid", "resource_version", "owner_uid"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
