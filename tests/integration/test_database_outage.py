"""PostgreSQL goes away for a while under a running Job: the containers keep running, the daemon
waits, and once the database is back the Job ends with exact counts; nothing crashes."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import _remove_managed_containers, managed_containers
from support.daemon import Daemon, job_yaml
from support.postgres import PgCluster


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    """A PostgreSQL of this test alone: the test stops and starts it."""
    pg = PgCluster(Path(tempfile.mkdtemp(prefix="miniorch-pg-")))
    pg.start()
    yield pg
    pg.stop()
    shutil.rmtree(pg.base_dir, ignore_errors=True)


def test_a_database_outage_mid_job_loses_nothing_and_the_daemon_carries_on(
    cluster: PgCluster, docker_nodes: list[Any], tmp_path: Path
) -> None:
    d = Daemon(tmp_path, [(n.name, n.url) for n in docker_nodes], extra={"database": cluster.create_database()})
    d.start()
    try:
        d.apply(job_yaml("through", "sleep 2", parallelism=2, completions=6))
        d.wait_for(lambda: sum(len(c) for c in managed_containers(docker_nodes).values()) >= 2, what="pods running")
        cluster.stop()
        time.sleep(1)
        during = d.ctl("get", "jobs")
        assert during.returncode == 1
        assert "the database did not answer" in during.stderr and "Traceback" not in during.stderr
        time.sleep(6)  # the running pods finish while the database is away
        assert d.proc is not None and d.proc.poll() is None, d.log_text()[-3000:]
        cluster.start()
        job = d.wait_job("through", timeout=90)
        pods = d.pods("through")
        assert job["status"]["succeeded"] == 6 and job["status"]["failed"] == 0
        assert len(pods) == 6 and all(p["status"]["phase"] == "Succeeded" for p in pods)
        events = [e.get("event") for e in d.log_events()]
        assert "database_unavailable" in events and "database_available" in events
        assert "daemon_task_died" not in events
        assert "Traceback" not in d.log_text()
    finally:
        if d.proc is not None and d.proc.poll() is None:
            d.stop()
        _remove_managed_containers(docker_nodes)
