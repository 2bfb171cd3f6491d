"""The folder watcher with real inotify (watchdog) on a temporary folder and a SQLite store."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from miniorch.config import PolicyConfig
from miniorch.controllers import folder as folder_mod
from miniorch.controllers import manifestsync
from miniorch.controllers.objects import Applier
from miniorch.store.store import Store

from .test_folder_sync import job


class CountingSync(manifestsync.FolderSync):
    """A FolderSync that counts its passes."""

    passes = 0

    def sync(self, paths: Iterable[Path] | None = None, force: bool = False) -> manifestsync.SyncReport:
        self.passes += 1
        return super().sync(paths, force)


def run_watcher(tmp: Path, scenario: Callable[[Path, Store], None], **kw: float) -> CountingSync:
    """Run a watcher on tmp/jobs.d while `scenario` writes files from a thread."""
    root = tmp / "jobs.d"
    root.mkdir(exist_ok=True)
    store = Store(f"sqlite:///{tmp / 'state.db'}")
    now = lambda: dt.datetime.now(dt.UTC)  # noqa: E731
    sync = CountingSync(root, Applier(store, PolicyConfig(), lambda: None, now), store, now)

    async def main() -> None:
        watcher = folder_mod.FolderWatcher(sync, on_change=lambda: None, **kw)
        watcher.initial_sync()
        task = asyncio.create_task(watcher.run())
        try:
            await asyncio.to_thread(scenario, root, store)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    try:
        asyncio.run(main())
    finally:
        store.close()
    return sync


def wait_for(check: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def names(store: Store) -> set[str]:
    return {o.name for o in store.list_objects() if not o.deleting}


def test_a_burst_of_writes_is_applied_in_a_few_passes(tmp_path: Path) -> None:
    """100 files written at once are all applied, debounced into a handful of passes."""

    def scenario(root: Path, store: Store) -> None:
        for i in range(100):
            (root / f"j{i}.yaml").write_text(job(f"j{i}"))
        wait_for(lambda: len(names(store)) == 100)

    sync = run_watcher(tmp_path, scenario)
    assert sync.passes <= 6  # the initial load, then the burst in 1 s slices at most


def test_an_atomic_rename_and_a_removal_are_followed(tmp_path: Path) -> None:
    """A temp file renamed into place creates its Job; removing the file deletes it."""

    def scenario(root: Path, store: Store) -> None:
        tmp = root / ".x.yaml.tmp"
        tmp.write_text(job("x"))
        os.replace(tmp, root / "x.yaml")
        wait_for(lambda: names(store) == {"x"})
        (root / "x.yaml").unlink()
        wait_for(lambda: names(store) == set())

    run_watcher(tmp_path, scenario)


def test_the_periodic_rescan_catches_changes_without_inotify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no inotify watch at all, the rescan still applies a new file."""
    monkeypatch.setattr(folder_mod.FolderWatcher, "_ensure_watch", lambda self: None)
    monkeypatch.setattr(folder_mod, "POLL_SECONDS", 0.2)

    def scenario(root: Path, store: Store) -> None:
        (root / "late.yaml").write_text(job("late"))
        wait_for(lambda: names(store) == {"late"})

    run_watcher(tmp_path, scenario)


def test_a_folder_created_after_start_is_watched(tmp_path: Path) -> None:
    """A missing folder deletes nothing; once created, files in it are applied."""
    store_root = tmp_path / "jobs.d"

    def scenario(root: Path, store: Store) -> None:
        root.rmdir()
        time.sleep(0.3)
        root.mkdir()
        (root / "a.yaml").write_text(job("a"))
        wait_for(lambda: names(store) == {"a"}, timeout=5)

    run_watcher(tmp_path, scenario, rescan_seconds=0.5)
    assert store_root.is_dir()
