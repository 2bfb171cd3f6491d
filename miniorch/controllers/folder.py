"""The folder watcher: inotify (watchdog) events and periodic rescans drive `FolderSync`.

Watchdog calls back in its own thread; paths are handed to the asyncio loop
with `call_soon_threadsafe`, debounced (a burst becomes one pass), and synced
off the loop in a worker thread, one pass at a time. A full rescan every
`rescan_seconds` catches whatever inotify missed (overflow, network folders).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import structlog
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from miniorch.controllers import manifestsync, outage
from miniorch.controllers.objects import Applier
from miniorch.controllers.storeio import store_io
from miniorch.store.errors import StoreUnavailable
from miniorch.store.store import Store

log = structlog.get_logger(__name__)

#: inotify event types that never mean a change of content.
_NOT_CHANGES = {"opened", "closed_no_write"}
#: period of the full rescan when inotify is unavailable (e.g. watch limit reached).
POLL_SECONDS = 2.0
#: how soon files waiting for an object's deletion are tried again.
RETRY_SECONDS = 0.5


class _Handler(FileSystemEventHandler):
    """Runs in watchdog's thread: only forwards paths to the loop."""

    def __init__(self, forward: Callable[[list[Path], bool], None]) -> None:
        self._forward = forward

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in _NOT_CHANGES:
            return
        paths = [Path(str(p)) for p in (event.src_path, getattr(event, "dest_path", "")) if p]
        # A folder created, removed or moved carries files we got no event for: rescan all.
        whole = event.is_directory and event.event_type in ("created", "deleted", "moved")
        if paths and (whole or not event.is_directory):
            self._forward(paths, whole)


class FolderWatcher:
    """Keeps the store in line with the watched folder for the daemon's lifetime (a supervised task)."""

    def __init__(
        self,
        sync: manifestsync.FolderSync,
        on_change: Callable[[], None],
        debounce: float = 0.1,
        max_delay: float = 1.0,
        rescan_seconds: float = 30.0,
    ) -> None:
        self._sync = sync
        self._on_change = on_change
        self._debounce = debounce
        self._max_delay = max_delay
        self._rescan_seconds = rescan_seconds
        self._observer: BaseObserver | None = None
        self._watching: Path | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[Path] = set()
        self._full = False
        self._force = False
        self._changed = asyncio.Event()

    @classmethod
    def of_folder(
        cls, root: Path, applier: Applier, store: Store, now: Callable[[], dt.datetime], on_change: Callable[[], None]
    ) -> FolderWatcher:
        """The watcher of `root` with its FolderSync (the one way the daemon builds them)."""
        return cls(manifestsync.FolderSync(root, applier, store, now), on_change)

    # -- watchdog side (its thread) -----------------------------------------
    def _from_thread(self, paths: list[Path], whole: bool) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._note, paths, whole)

    def _note(self, paths: list[Path], whole: bool) -> None:
        self._pending.update(paths)
        self._full = self._full or whole
        self._changed.set()

    def _ensure_watch(self) -> None:
        """Watch the folder once it exists (it may appear later, or be another one after a reload)."""
        root = self._sync.root
        if self._watching == root and self._observer is not None and self._observer.is_alive():
            return
        self._stop_observer()
        if not root.is_dir():
            return
        observer = Observer()
        try:
            observer.schedule(_Handler(self._from_thread), str(root), recursive=True)
            observer.start()
        except OSError as exc:
            log.warning(
                "folder_watch_unavailable",
                folder=str(root),
                error=str(exc),
                hint=f"rescanning every {POLL_SECONDS}s instead; raise fs.inotify.max_user_watches",
            )
            return
        self._observer, self._watching = observer, root
        log.info("folder_watch_started", folder=str(root))

    def _stop_observer(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        self._observer, self._watching = None, None

    # -- loop side ------------------------------------------------------------
    def initial_sync(self) -> manifestsync.SyncReport:
        """Watch, then load every file (before the API serves); changes meanwhile are queued, not lost."""
        self._loop = asyncio.get_running_loop()
        self._ensure_watch()
        started = time.monotonic()
        report = self._sync.sync(None)
        log.info(
            "manifests_loaded",
            folder=str(self._sync.root),
            files=report.files,
            applied=report.applied,
            failed=report.failed,
            deleted=report.deleted,
            seconds=round(time.monotonic() - started, 3),
        )
        return report

    def reload(self, folder: Path) -> None:
        """Config reload: maybe another folder; every file is applied again (the policy may have changed)."""
        self._sync.retarget(folder)
        self._full = self._force = True
        self._changed.set()

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._outage = outage.Outage("folder")
        last_full = time.monotonic()
        try:
            while True:
                self._ensure_watch()
                period = self._rescan_seconds if self._observer is not None else POLL_SECONDS
                timeout = RETRY_SECONDS if self._sync.waiting else max(0.0, last_full + period - time.monotonic())
                try:
                    async with asyncio.timeout(timeout):  # not wait_for: 3.11's can drop a cancellation
                        await self._changed.wait()
                except TimeoutError:
                    self._full = self._full or time.monotonic() >= last_full + period
                else:
                    await self._settle()
                paths, full, force = self._pending, self._full, self._force
                self._pending, self._full, self._force = set(), False, False
                if full:
                    last_full = time.monotonic()
                try:
                    report = await store_io(self._sync.sync, None if full else paths, force)
                except StoreUnavailable as exc:  # applied nothing: the same files again after a wait
                    self._pending |= paths
                    self._full, self._force = self._full or full, self._force or force
                    await asyncio.sleep(self._outage.failed(exc))
                    self._changed.set()
                    continue
                self._outage.worked()
                if report.changed:
                    self._on_change()
        finally:
            self._stop_observer()

    async def _settle(self) -> None:
        """Debounce: wait until `debounce` passes without events, at most `max_delay` in all."""
        deadline = time.monotonic() + self._max_delay
        while True:
            self._changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                async with asyncio.timeout(min(self._debounce, remaining)):
                    await self._changed.wait()
            except TimeoutError:
                return
