"""A database made by an older miniorch opens: new columns are added with their defaults."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from miniorch.store.records import PodRecord
from miniorch.store.store import Store


def test_old_database_gains_new_columns_with_defaults(tmp_path: Path) -> None:
    """A pods table without cpu_request/memory_request (an older schema) is upgraded in place; old rows read back."""
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE pods (uid VARCHAR PRIMARY KEY, name VARCHAR, namespace VARCHAR, owner_kind VARCHAR, "
            "owner_name VARCHAR, owner_uid VARCHAR, node VARCHAR, phase VARCHAR, reason VARCHAR, message VARCHAR, "
            "exit_code INTEGER, last_exit_code INTEGER, restart_count INTEGER, failures INTEGER, "
            "restart_pending BOOLEAN, deletion_reason VARCHAR, created_at DATETIME, started_at DATETIME, "
            "finished_at DATETIME, last_failure_at DATETIME, completion_index INTEGER, labels JSON, annotations JSON, "
            "log_tail TEXT, container_removed BOOLEAN)"
        )
        conn.execute(
            "INSERT INTO pods VALUES ('u1','pi-abcde','default','Job','pi','j1','n0','Succeeded','Completed','',0,NULL,"
            "0,0,0,'','2026-01-01 00:00:00',NULL,NULL,NULL,NULL,'{}','{}','hello',1)"
        )
    store = Store(f"sqlite:///{db}")
    pod = store.get_pod("default", "pi-abcde")
    assert pod is not None and pod.cpu_request == 0.0 and pod.memory_request == 0 and pod.log_tail == "hello"
    store.save_pod(
        PodRecord(
            uid="u2",
            name="pi-x",
            namespace="default",
            owner_kind="Job",
            owner_name="pi",
            owner_uid="j1",
            node="n0",
            created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            cpu_request=0.5,
        )
    )
    assert store.get_pod("default", "pi-x").cpu_request == 0.5  # type: ignore[union-attr]
    store.close()
