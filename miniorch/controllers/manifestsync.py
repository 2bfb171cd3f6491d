"""The watched folder's sync: what each file defines, brought into the store.

`FolderSync.sync(paths)` reads the named files (or the whole folder) with
`spec.files` (the reader of `miniorch validate` and `ctl apply -f`), validates
them, applies the good ones through the Applier and deletes what a file no
longer defines. A bad file changes nothing: what it defined before stays in
force, and the error becomes a Warning event and a log line. Loading never
starts a run by itself: only new objects create Jobs (DESIGN.md 4.7).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from miniorch.controllers.objects import Applier, Busy, Conflict, Immutable, NotFound
from miniorch.spec import files
from miniorch.spec.errors import ManifestInvalid
from miniorch.store.records import EventRecord, ObjectRef
from miniorch.store.store import Store

log = structlog.get_logger(__name__)


@dataclass
class FileState:
    """What the folder sync remembers of one file between passes."""

    stamp: files.Stamp | None
    digest: str | None
    ok: bool
    lines: dict[files.Key, int] = field(default_factory=dict)
    error: str = ""


@dataclass
class SyncReport:
    files: int = 0
    applied: int = 0
    failed: int = 0
    deleted: int = 0
    changed: bool = False


class FolderSync:
    """Brings the store in line with the manifest files of one folder; not thread-safe (one caller)."""

    def __init__(self, root: Path, applier: Applier, store: Store, now: Callable[[], dt.datetime]) -> None:
        self.root = root.absolute()
        self._applier = applier
        self._store = store
        self._now = now
        self._known: dict[Path, FileState] = {}
        self.waiting: set[Path] = set()  # files whose objects are still being deleted; retried soon
        self._missing_logged = False

    def retarget(self, root: Path) -> None:
        """Follow another folder (config reload); the next full sync makes the store match it."""
        if root.absolute() != self.root:
            self.root = root.absolute()
            self._known.clear()
            self._missing_logged = False

    def sync(self, paths: Iterable[Path] | None = None, force: bool = False) -> SyncReport:
        """Apply changed files: the named ones, those whose stamp moved, and those gone (all with None)."""
        if not self.root.is_dir():
            if not self._missing_logged:
                log.warning(
                    "manifests_dir_missing", folder=str(self.root), hint="create it; nothing is deleted meanwhile"
                )
                self._missing_logged = True
            return SyncReport()
        self._missing_logged = False
        current = files.scan(self.root)
        owned = self._store.file_object_refs()
        candidates = self._candidates(current, owned, paths, force)
        batch = []
        for path in sorted(candidates):
            loaded = files.read_file(path) if path in current else files.Loaded(path, None, removed=True)
            if loaded is None:
                continue
            known = self._known.get(path)
            if not force and known is not None and known.digest == loaded.digest and path not in self.waiting:
                known.stamp = current.get(path)
                continue
            batch.append(loaded)
        if batch:  # a change elsewhere may cure a failing file (e.g. a duplicate name removed)
            taken = {f.path for f in batch}
            for path in sorted(p for p, k in self._known.items() if not k.ok and p in current and p not in taken):
                if (loaded := files.read_file(path)) is not None:
                    batch.append(loaded)
            batch.sort(key=lambda f: f.path)
        report = self._apply(batch, current, owned)
        report.files = len(current)
        return report

    def _candidates(
        self, current: dict[Path, files.Stamp], owned: list[ObjectRef], paths: Iterable[Path] | None, force: bool
    ) -> set[Path]:
        if paths is None or force:
            gone = {Path(o.source.removeprefix("file:")) for o in owned if not o.deleting}
            return set(current) | set(self._known) | (gone - set(current))
        named = {p for p in paths if files.is_manifest(p, self.root)}
        moved = {p for p, stamp in current.items() if (k := self._known.get(p)) is None or k.stamp != stamp}
        vanished = {p for p in self._known if p not in current}
        return named | moved | vanished | self.waiting

    def _apply(self, batch: list[files.Loaded], current: dict[Path, files.Stamp], owned: list[ObjectRef]) -> SyncReport:
        report = SyncReport()
        in_batch = {f.path for f in batch}
        before: dict[Path, dict[files.Key, int]] = {}
        held: dict[files.Key, tuple[str, int]] = {}
        for o in owned:
            if o.deleting:
                continue
            path, key = Path(o.source.removeprefix("file:")), (o.kind, o.namespace, o.name)
            line = self._known[path].lines.get(key, 0) if path in self._known else 0
            if path in in_batch:
                before.setdefault(path, {})[key] = line
            else:
                held[key] = (str(path), line)
        duplicates = files.find_duplicates(batch, held, before)
        applied: list[files.Loaded] = []
        for f in batch:
            errors = list(f.errors) or duplicates.get(f.path, [])
            if f.removed:
                self._known.pop(f.path, None)
                applied.append(f)
            elif errors:
                self._fail(f, current, before, "InvalidManifest", ManifestInvalid(errors))
                report.failed += 1
            elif self._apply_file(f, current, before):
                applied.append(f)
                report.applied += 1
            else:
                report.failed += 1
        report.deleted = self._delete_leftovers(applied)
        report.changed = bool(batch)
        return report

    def _apply_file(
        self, f: files.Loaded, current: dict[Path, files.Stamp], before: dict[Path, dict[files.Key, int]]
    ) -> bool:
        was_failing = f.path in self._known and not self._known[f.path].ok
        try:
            results = self._applier.apply(f.manifests, f.source)
        except Busy as exc:
            if f.path not in self.waiting:
                log.info("manifest_file_waiting", file=str(f.path), reason=str(exc))
            self.waiting.add(f.path)
            return False
        except ManifestInvalid as exc:
            self._fail(f, current, before, "InvalidManifest", exc)
            return False
        except Immutable as exc:
            self._fail(f, current, before, "FieldImmutable", exc)
            return False
        except Conflict as exc:
            self._fail(f, current, before, "ApplyConflict", exc)
            return False
        self.waiting.discard(f.path)
        self._known[f.path] = FileState(
            current.get(f.path), f.digest, True, {files.key_of(m): m.line for m in f.manifests}
        )
        for m in f.manifests:
            for w in m.warnings:
                log.warning("manifest_field_ignored", file=str(f.path), line=w.line, field=w.path, message=w.message)
        for r in results:
            if r.action != "unchanged":
                log.info("manifest_applied", file=str(f.path), kind=r.kind, name=r.name, action=r.action)
        if was_failing:
            self._event(
                f.path, "Normal", "ManifestApplied", f"{f.path}: valid again and applied ({len(results)} objects)"
            )
        return True

    def _fail(
        self,
        f: files.Loaded,
        current: dict[Path, files.Stamp],
        before: dict[Path, dict[files.Key, int]],
        reason: str,
        exc: Exception,
    ) -> None:
        """Report a file that cannot be applied; what it defined before stays in force."""
        self.waiting.discard(f.path)
        previous = self._known.get(f.path)
        self._known[f.path] = FileState(current.get(f.path), f.digest, False, before.get(f.path, {}), str(exc))
        if previous is not None and previous.digest == f.digest and previous.error == str(exc):
            return  # reported already
        errors = exc.errors if isinstance(exc, ManifestInvalid) else []
        first = errors[0] if errors else None
        log.warning(
            "manifest_file_invalid",
            file=str(f.path),
            line=first.line if first else None,
            column=first.column if first else None,
            field=first.path if first else None,
            reason=reason,
            error=str(exc),
            kept=len(before.get(f.path, {})),
        )
        self._event(f.path, "Warning", reason, str(exc))
        if isinstance(exc, Immutable):  # also on the Job, so `ctl describe job` shows what to do
            for m in f.manifests:
                obj = self._store.get_object(m.kind, m.namespace, m.name)
                if obj is not None:
                    self._record(obj.namespace, obj.kind, obj.name, obj.uid, "Warning", reason, str(exc))

    def _delete_leftovers(self, applied: list[files.Loaded]) -> int:
        """Delete what applied or removed files no longer define (after applies: renamed files keep theirs)."""
        wanted = {f.source: {files.key_of(m) for m in f.manifests} for f in applied}
        deleted = 0
        for o in self._store.file_object_refs():
            if o.deleting or o.source not in wanted or (o.kind, o.namespace, o.name) in wanted[o.source]:
                continue
            try:
                self._applier.delete(o.kind, o.namespace, o.name, source=o.source)
            except NotFound:
                continue
            log.info("manifest_object_removed", file=o.source.removeprefix("file:"), kind=o.kind, name=o.name)
            deleted += 1
        return deleted

    def _event(self, path: Path, type_: str, reason: str, message: str) -> None:
        self._record("default", "File", str(path), f"file:{path}", type_, reason, message)

    def _record(self, namespace: str, kind: str, name: str, uid: str, type_: str, reason: str, message: str) -> None:
        now = self._now()
        self._store.record_event(
            EventRecord(namespace, kind, name, uid, type_, reason, message, first_timestamp=now, last_timestamp=now)
        )
