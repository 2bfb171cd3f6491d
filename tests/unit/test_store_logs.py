"""Log tails survive records that were read without them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from miniorch.store.records import PodPhase, PodRecord
from miniorch.store.store import Store


def test_saving_a_record_read_without_its_log_keeps_the_log(tmp_path: Path) -> None:
    """pods_of(with_log=False) then save: the stored log tail of the attempt is still there."""
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    pod = PodRecord(
        uid="u",
        name="p-1",
        namespace="default",
        owner_kind="Job",
        owner_name="p",
        owner_uid="j",
        node="n0",
        created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        phase=PodPhase.FAILED,
        exit_code=3,
        log_tail="attempt 1 output\n",
    )
    store.save_pod(pod)
    light = store.pods_of("j", with_log=False)[0]
    assert light.log_tail == ""
    store.save_pod(dataclasses.replace(light, container_removed=True))
    saved = store.get_pod("default", "p-1")
    assert saved is not None and saved.container_removed and saved.log_tail == "attempt 1 output\n"
    store.close()
