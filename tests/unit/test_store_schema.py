"""The schema is versioned: migrations make what the tables declare, old databases upgrade in
place, and a database of a newer miniorch is refused with the version it needs."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from miniorch.store import schema
from miniorch.store.store import Store

FIXTURE_010 = Path(__file__).resolve().parents[1] / "fixtures" / "state-0.1.0.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def new_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """Makes URLs of new empty databases of the backend under test."""
    if request.param == "postgresql":
        cluster: Any = request.getfixturevalue("postgres")
        return lambda: str(cluster.create_database())
    counter = iter(range(1000))
    return lambda: f"sqlite:///{tmp_path / f'db{next(counter)}.db'}"


def test_the_migrations_make_exactly_the_tables_the_store_declares(new_url: Callable[[], str]) -> None:
    store = Store(new_url())
    with store._engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    store.close()
    assert diff == []


def test_a_new_database_is_at_the_newest_revision(new_url: Callable[[], str]) -> None:
    store = Store(new_url())
    assert store.schema == schema.Upgrade(None, schema.head())
    assert schema.current(store._engine) == schema.head()
    store.close()
    again = Store(store._engine.url.render_as_string(hide_password=False))
    assert not again.schema.changed
    again.close()


def test_a_database_written_by_0_1_0_upgrades_in_place_and_keeps_everything(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    shutil.copy(FIXTURE_010, db)
    with sqlite3.connect(db) as conn:  # 0.1.0 had no schema version
        assert not conn.execute("SELECT name FROM sqlite_master WHERE name='alembic_version'").fetchall()
    store = Store(f"sqlite:///{db}")
    assert store.schema.before is None and schema.current(store._engine) == schema.head()
    assert store.cluster_id() == "04725da1e595"  # the containers it labelled stay ours
    job = store.get_object("Job", "default", "pi")
    assert job is not None and job.status["succeeded"] == 1
    [pod] = store.pods_of(job.uid)
    assert (pod.exit_code, pod.log_tail, pod.container_removed) == (0, "3.14159\n", True)
    assert [e.reason for e in store.list_events()] == ["Completed"]
    assert store.node_overrides()["node0"].unschedulable
    assert [r.hash for r in store.revisions_of("ds-uid-1")] == ["abc"]
    store.close()


def test_a_database_of_a_newer_miniorch_is_refused_naming_the_version_it_needs(new_url: Callable[[], str]) -> None:
    url = new_url()
    Store(url).close()
    engine = sqlalchemy.create_engine(schema_url(url))
    with engine.begin() as conn:  # what a future miniorch 0.9.0 would leave behind
        conn.execute(sqlalchemy.text("UPDATE alembic_version SET version_num = '0042'"))
        conn.execute(sqlalchemy.text(f"UPDATE meta SET value = '0.9.0' WHERE key = '{schema.REQUIRES_KEY}'"))
    engine.dispose()
    with pytest.raises(schema.SchemaTooNew) as err:
        Store(url)
    message = str(err.value)
    assert "revision 0042" in message and "install miniorch 0.9.0 or newer" in message


def schema_url(url: str) -> str:
    from miniorch.store.store import engine_url

    return engine_url(url)


def test_db_upgrade_says_what_it_did_and_refuses_a_newer_database_with_exit_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from miniorch.cli.main import app

    state = tmp_path / "state"
    state.mkdir()
    shutil.copy(FIXTURE_010, state / "miniorch.db")
    config = tmp_path / "miniorch.yaml"
    config.write_text(f"state_dir: {state}\n")
    runner = CliRunner()
    first = runner.invoke(app, ["db", "upgrade", "--config", str(config)])
    assert (
        first.exit_code == 0 and f"schema upgraded from none (new or 0.1.0 database) to {schema.head()}" in first.output
    )
    again = runner.invoke(app, ["db", "upgrade", "--config", str(config)])
    assert again.exit_code == 0 and "already at" in again.output
    with sqlite3.connect(state / "miniorch.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0042'")
    newer = runner.invoke(app, ["db", "upgrade", "--config", str(config)])
    assert newer.exit_code == 2 and "revision 0042" in newer.output
