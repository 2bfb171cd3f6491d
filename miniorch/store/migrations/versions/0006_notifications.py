"""Failure notifications (DESIGN 12): facts, one delivery per (fact, receiver), and an index that
lets the collector read the events last seen after its cursor.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _ts(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True))


def upgrade() -> None:
    op.create_table(
        "notification_facts",
        sa.Column("id", AutoString(), primary_key=True),
        sa.Column("key", AutoString(), nullable=False, unique=True),
        sa.Column("type", AutoString(), nullable=False),
        sa.Column("kind", AutoString(), nullable=False),
        sa.Column("namespace", AutoString(), nullable=False),
        sa.Column("name", AutoString(), nullable=False),
        sa.Column("uid", AutoString(), nullable=False),
        sa.Column("reason", AutoString(), nullable=False),
        sa.Column("message", sa.Text()),
        sa.Column("node", AutoString()),
        sa.Column("pod", AutoString()),
        sa.Column("log", sa.Text()),
        sa.Column("owner", AutoString()),
        _ts("occurred_at"),
        _ts("created_at"),
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("id", AutoString(), primary_key=True),
        sa.Column("fact_id", AutoString(), nullable=False),
        sa.Column("receiver", AutoString(), nullable=False),
        sa.Column("state", AutoString(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("next_attempt_at"),
        sa.Column("last_error", sa.Text()),
        _ts("created_at"),
        _ts("delivered_at"),
    )
    op.create_index("ix_notification_deliveries_fact_id", "notification_deliveries", ["fact_id"])
    op.create_index("ix_notification_deliveries_state", "notification_deliveries", ["state"])
    op.create_index("ix_events_last_timestamp", "events", ["last_timestamp"])


def downgrade() -> None:
    op.drop_index("ix_events_last_timestamp", "events")
    op.drop_table("notification_deliveries")
    op.drop_table("notification_facts")
