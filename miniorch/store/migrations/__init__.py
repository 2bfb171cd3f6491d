"""Alembic migrations of miniorch's schema (`versions/`), applied by `miniorch.store.schema`."""
