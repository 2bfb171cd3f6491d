"""Opening PostgreSQL: a refusal is one line naming the fix, an outage is waited out, and the
password appears in no message (against the real cluster the session runs)."""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path
from typing import Any

import pytest

from miniorch.store import database
from miniorch.store.store import Store

SECRET = "s3cr3t-Pa55"


@pytest.fixture(scope="module")
def roles(postgres: Any) -> Any:
    """A role `etl` with a password, and a database owned by someone else."""
    postgres.sql(f"CREATE ROLE etl LOGIN PASSWORD '{SECRET}'")
    postgres.sql("CREATE DATABASE theirs")
    postgres.sql("GRANT CONNECT ON DATABASE theirs TO etl")
    postgres.sql("CREATE DATABASE etl_own OWNER etl")
    return postgres


def url_for(cluster: Any, user: str, db: str) -> str:
    return f"postgresql://{user}@127.0.0.1:{cluster.port}/{db}"


def test_the_password_from_the_password_file_opens_the_database(roles: Any) -> None:
    store = database.open_store(url_for(roles, "etl", "etl_own"), password=SECRET)
    assert len(store.cluster_id()) == 12
    store.close()


@pytest.mark.parametrize(
    ("user", "db", "password", "words"),
    [
        ("etl", "etl_own", "wrong", "password authentication failed"),
        ("etl", "nosuchdb", SECRET, 'database "nosuchdb" does not exist'),
        ("etl", "theirs", SECRET, "permission denied for schema public"),
    ],
    ids=["wrong-password", "missing-database", "no-rights"],
)
def test_a_database_that_refuses_us_is_a_permanent_error_naming_the_cause(
    roles: Any, user: str, db: str, password: str, words: str
) -> None:
    with pytest.raises(database.DatabaseError) as err:
        database.open_store(url_for(roles, user, db), password=password, on_retry=lambda e, d: None)
    message = str(err.value)
    assert err.value.permanent
    assert words in message and "check `database` and `database_password_file`" in message
    assert SECRET not in message and "wrong" not in message.replace("wrong-", "")
    assert "\n" not in message and "sqlalche.me" not in message


def test_an_unreachable_database_is_retried_with_a_reason_until_it_answers(
    postgres: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    attempts: list[tuple[str, float]] = []
    target = {"url": f"postgresql://miniorch:{SECRET}@127.0.0.1:{dead_port}/postgres"}

    def sleep(delay: float) -> None:
        if len(attempts) == 3:  # the database comes back
            target["url"] = postgres.create_database()

    def on_retry(error: database.DatabaseError, delay: float) -> None:
        attempts.append((str(error), delay))

    real_store = Store

    def opener(url: str, password: str | None = None) -> Store:
        return real_store(target["url"], password=password)

    monkeypatch.setattr(database, "Store", opener)  # the URL changes when the database "comes back"
    store = database.open_store("postgresql://x", on_retry=on_retry, sleep=sleep)
    store.close()
    assert [d for _, d in attempts] == [1.0, 2.0, 4.0]
    assert all("retrying" in m and SECRET not in m for m, _ in attempts)
    assert all("refused" in m.lower() or "connect" in m.lower() for m, _ in attempts)


def test_a_database_that_goes_away_is_store_unavailable_and_the_same_store_works_once_it_is_back(
    tmp_path: Path,
) -> None:
    import shutil
    import tempfile

    from support.postgres import PgCluster

    from miniorch.store.errors import StoreUnavailable
    from miniorch.store.records import ObjectRecord

    cluster = PgCluster(Path(tempfile.mkdtemp(prefix="miniorch-pg-")))  # its own: this test stops it
    cluster.start()
    try:
        store = Store(cluster.create_database())
        job = ObjectRecord("u1", "Job", "default", "pi", {}, {}, created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        store.add_object(job)
        cluster.stop()
        with pytest.raises(StoreUnavailable, match="the database did not answer"):
            store.save_status(job.uid, {"active": 1})
        with pytest.raises(StoreUnavailable):
            store.list_objects()
        cluster.start()
        for _ in range(2):  # the pool may hand out one connection from before the restart
            try:
                store.save_status(job.uid, {"active": 1})
                break
            except StoreUnavailable:
                continue
        got = store.get_object_by_uid(job.uid)
        assert got is not None and got.status == {"active": 1}
        store.close()
    finally:
        cluster.stop()
        shutil.rmtree(cluster.base_dir, ignore_errors=True)
