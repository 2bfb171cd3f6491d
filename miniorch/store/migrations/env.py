"""Alembic's environment: migrations run on the connection `miniorch.store.schema` hands in.

No alembic.ini and no URL here: the Store owns the engine (SQLite or PostgreSQL), and
SQLite gets batch mode so that column changes work despite its limited ALTER TABLE.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=None,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
