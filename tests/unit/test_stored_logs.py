"""Stored log tails: older databases gain the timestamp columns, and their plain tails still answer `ctl logs`."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from miniorch.api import logsource
from miniorch.store.records import PodPhase, PodRecord
from miniorch.store.store import Store

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, 250000, tzinfo=dt.UTC)
STAMPED = (
    "2026-01-02T03:04:05.000000001Z one\n2026-01-02T03:04:06.000000001Z two\n2026-01-02T03:04:16.000000001Z three\n"
)


def test_old_pods_table_gains_log_columns_and_new_values_round_trip(tmp_path: Path) -> None:
    """A pods table from before log timestamps opens; old rows read as plain tails; run starts keep microseconds."""
    db = tmp_path / "old.db"
    Store(f"sqlite:///{db}").close()
    with sqlite3.connect(db) as conn:  # the schema as it was before these three columns: revision 0002
        for index in ("ix_pods_versions", "ix_objects_versions", "ix_objects_owned_versions"):  # revision 0008
            conn.execute(f"DROP INDEX {index}")
        later = ("log_timestamped", "run_started_at", "previous_run_started_at", "start_attempts", "last_attempt_at")
        for column in later:  # added by revisions 0003 and 0004
            conn.execute(f"ALTER TABLE pods DROP COLUMN {column}")
        for table in ("objects", "pods", "events", "nodes"):  # added by revision 0005
            conn.execute(f"ALTER TABLE {table} DROP COLUMN resource_version")
        conn.execute("DROP TABLE changes")
        conn.execute("DROP TABLE resource_versions")
        for table in ("notification_deliveries", "notification_facts"):  # added by revision 0006
            conn.execute(f"DROP TABLE {table}")
        conn.execute("DROP INDEX ix_events_last_timestamp")
        conn.execute("DROP INDEX ix_pods_owner_kind_owner_name")  # added by revision 0007
        conn.execute("UPDATE alembic_version SET version_num = '0002'")
        conn.execute(
            "INSERT INTO pods (uid, name, namespace, owner_kind, owner_name, owner_uid, node, phase, restart_count, "
            "failures, restart_pending, deletion_reason, created_at, labels, annotations, log_tail, "
            "container_removed, cpu_request, memory_request, reason, message) VALUES ('u1', 'pi-abcde', 'default', "
            "'Job', 'pi', 'j1', 'n0', 'Succeeded', 0, 0, 0, '', '2026-01-01 00:00:00', '{}', '{}', 'hello\n', 1, 0, "
            "0, 'Completed', '')"
        )
    store = Store(f"sqlite:///{db}")
    old = store.get_pod("default", "pi-abcde")
    assert old is not None and old.log_tail == "hello\n" and not old.log_timestamped and old.run_started_at is None
    new = PodRecord(
        uid="u2",
        name="pi-x",
        namespace="default",
        owner_kind="Job",
        owner_name="pi",
        owner_uid="j1",
        node="n0",
        created_at=T0,
        log_tail=STAMPED,
        log_timestamped=True,
        run_started_at=T0,
        previous_run_started_at=T0 - dt.timedelta(seconds=10),
    )
    store.save_pod(new)
    back = store.get_pod("default", "pi-x")
    assert back is not None and back.log_timestamped and back.run_started_at == T0
    assert back.previous_run_started_at == T0 - dt.timedelta(seconds=10)
    store.close()


def _pod(**fields: object) -> PodRecord:
    return PodRecord(
        uid="u",
        name="p",
        namespace="default",
        owner_kind="Job",
        owner_name="j",
        owner_uid="o",
        node="n",
        phase=PodPhase.FAILED,
        **{"created_at": T0, **fields},  # type: ignore[arg-type]
    )


def test_a_plain_tail_from_an_older_miniorch_is_served_whole_and_since_uses_the_finish_time() -> None:
    """No timestamps: --timestamps cannot add them, --since keeps the tail if the run ended in the window."""
    pod = _pod(log_tail="a\nb\n", finished_at=T0)
    assert logsource._stored(pod, None, None, True, False) == "a\nb\n"
    stamped_by_the_program = _pod(log_tail="2026-01-02T03:04:05Z own\n", finished_at=T0)
    assert logsource._stored(stamped_by_the_program, None, None, False, False) == "2026-01-02T03:04:05Z own\n"
    assert logsource._stored(pod, 1, T0 - dt.timedelta(seconds=5), False, False) == "b\n"
    assert logsource._stored(pod, None, T0 + dt.timedelta(seconds=5), False, False) == ""
    with pytest.raises(ValueError, match="older miniorch"):
        logsource._stored(pod, None, None, False, True)


def test_a_timestamped_tail_answers_timestamps_since_and_previous() -> None:
    """Stored tails of this version: strip or keep the stamps, filter by time, split runs by their starts."""
    start2 = dt.datetime(2026, 1, 2, 3, 4, 16, tzinfo=dt.UTC)
    pod = _pod(
        log_tail=STAMPED, log_timestamped=True, run_started_at=start2, previous_run_started_at=None, restart_count=1
    )
    assert logsource._stored(pod, None, None, False, False) == "one\ntwo\nthree\n"
    assert logsource._stored(pod, None, None, True, False) == STAMPED
    assert logsource._stored(pod, None, dt.datetime(2026, 1, 2, 3, 4, 6, tzinfo=dt.UTC), False, False) == "two\nthree\n"
    assert logsource._stored(pod, None, None, False, True) == "one\ntwo\n"
