"""Databases of miniorch 0.1.0 and its development versions, which had no schema version.

They are brought to 0.1.0's frozen schema (`migrations.baseline`): missing tables are
created, missing columns added nullable or NOT NULL with their default; Alembic then
stamps them as the baseline revision and takes over.
"""

from __future__ import annotations

import sqlalchemy
from sqlalchemy.engine import Connection

from miniorch.store.migrations import baseline


def bring_to_baseline(conn: Connection) -> None:
    baseline.METADATA.create_all(conn)  # tables a development version did not have yet
    inspector = sqlalchemy.inspect(conn)
    for table in baseline.METADATA.sorted_tables:
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                conn.execute(sqlalchemy.text(_add_column(conn, table.name, column)))


def _add_column(conn: Connection, table: str, column: sqlalchemy.Column[object]) -> str:
    kind = column.type.compile(dialect=conn.dialect)
    clause = ""
    if not column.nullable:
        default = getattr(column.default, "arg", None)
        if default is None or callable(default):
            raise RuntimeError(f"cannot add column {table}.{column.name} to an existing database")
        literal = sqlalchemy.literal(default, column.type).compile(
            dialect=conn.dialect, compile_kwargs={"literal_binds": True}
        )
        clause = f" NOT NULL DEFAULT {literal}"
    return f'ALTER TABLE "{table}" ADD COLUMN "{column.name}" {kind}{clause}'
