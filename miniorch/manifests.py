"""The watched folder's file logic: which files count, what each defines, and syncing them.

`FolderSync.sync(paths)` reads the named files (or the whole folder), validates
them, applies the good ones through the Applier and deletes what a file no
longer defines. A bad file changes nothing: what it defined before stays in
force, and the error becomes a Warning event and a log line. Loading never
starts a run by itself: only new objects create Jobs (DESIGN.md 4.7).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from miniorch.controllers.objects import Applier, Busy, Conflict, Immutable, NotFound
from miniorch.spec import loader
from miniorch.spec.errors import ManifestError, ManifestInvalid
from miniorch.store.records import EventRecord, ObjectRef
from miniorch.store.store import Store

log = structlog.get_logger(__name__)

Key = tuple[str, str, str]  # kind, namespace, name
SUFFIXES = (".yaml", ".yml")


def is_manifest(path: Path, root: Path) -> bool:
    """A `*.yaml`/`*.yml` file under root; hidden entries, editor swap/backup/lock files never count."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return False
    if not parts or any(p.startswith(".") for p in parts):  # .x.swp, .#lock, .git/, temp files of rsync
        return False
    name = parts[-1]
    return not name.endswith("~") and name != "4913" and path.suffix in SUFFIXES


@dataclass(frozen=True)
class Stamp:
    """What a stat says about a file; a different stamp means the file may have changed."""

    mtime_ns: int
    size: int
    inode: int

    @staticmethod
    def of(st: os.stat_result) -> Stamp:
        return Stamp(st.st_mtime_ns, st.st_size, st.st_ino)


def scan(root: Path) -> dict[Path, Stamp]:
    """Every manifest file under root with its stamp (hidden folders are not entered)."""
    found: dict[Path, Stamp] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            path = Path(folder, name)
            if is_manifest(path, root):
                try:
                    found[path] = Stamp.of(path.stat())
                except OSError:  # vanished between listing and stat
                    continue
    return found


def manifest_files(folder: Path) -> list[Path]:
    """The manifest files of a folder, sorted, with the same rules as the watcher (`ctl apply -f DIR`)."""
    return sorted(scan(folder)) if folder.is_dir() else []


@dataclass(frozen=True)
class Loaded:
    """One file as it is now: its objects, or the errors that keep it from being applied.

    `removed` files define nothing; `digest` is None for them.
    """

    path: Path
    digest: str | None
    manifests: tuple[loader.Manifest, ...] = ()
    errors: tuple[ManifestError, ...] = ()
    removed: bool = False

    @property
    def source(self) -> str:
        return f"file:{self.path}"


def key_of(m: loader.Manifest) -> Key:
    return (m.kind, m.namespace, m.name)


def read_file(path: Path) -> Loaded | None:
    """Load one file; None while it is empty or being written (its size or time moved while read)."""
    try:
        before = Stamp.of(path.stat())
        data = path.read_bytes()
        after = Stamp.of(path.stat())
    except FileNotFoundError:
        return Loaded(path, None, removed=True)
    except OSError as exc:
        error = ManifestError(str(path), None, None, "", f"cannot read file: {exc.strerror}")
        return Loaded(path, f"error:{exc.errno}", errors=(error,))
    if before != after or not data:
        return None  # partially written; the write that completes it brings another event
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Loaded(
            path, digest, errors=(ManifestError(str(path), None, None, "", "cannot read file: not UTF-8 text"),)
        )
    try:
        return Loaded(path, digest, tuple(loader.load_text(text, str(path))))
    except ManifestInvalid as exc:
        return Loaded(path, digest, errors=tuple(exc.errors))


def _where(path: str, line: int) -> str:
    return f"{path}:{line}" if line else path


def find_duplicates(
    batch: Sequence[Loaded], held: dict[Key, tuple[str, int]], before: dict[Path, dict[Key, int]]
) -> dict[Path, list[ManifestError]]:
    """Files of the batch that define an object another file already defines (pure).

    `held`: objects of files outside the batch, as (path, line). `before`: what
    each batch file defined until now; a file that stays invalid keeps it. The
    first file (in the batch's order) to claim a name wins, as `miniorch validate`.
    """
    failed = {f.path for f in batch if f.errors}
    found: dict[Path, list[ManifestError]] = {}
    while True:
        claims = dict(held)
        for f in batch:
            if f.path in failed:
                for key, line in before.get(f.path, {}).items():
                    claims.setdefault(key, (str(f.path), line))
        new: dict[Path, list[ManifestError]] = {}
        for f in batch:
            if f.path in failed:
                continue
            errors = []
            for m in f.manifests:
                other = claims.get(key_of(m))
                if other is not None and other[0] != str(f.path):
                    errors.append(
                        ManifestError(
                            str(f.path),
                            m.line or None,
                            None,
                            "metadata.name",
                            f'duplicate {m.kind} "{m.namespace}/{m.name}": also defined at {_where(*other)}',
                            "each object may be defined once; rename or remove one",
                        )
                    )
            if errors:
                new[f.path] = errors
            else:
                claims.update({key_of(m): (str(f.path), m.line) for m in f.manifests})
        if not new:
            return found
        found.update(new)
        failed |= set(new)


@dataclass
class FileState:
    """What the folder sync remembers of one file between passes."""

    stamp: Stamp | None
    digest: str | None
    ok: bool
    lines: dict[Key, int] = field(default_factory=dict)
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
        current = scan(self.root)
        owned = self._store.file_object_refs()
        candidates = self._candidates(current, owned, paths, force)
        batch = []
        for path in sorted(candidates):
            loaded = read_file(path) if path in current else Loaded(path, None, removed=True)
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
                if (loaded := read_file(path)) is not None:
                    batch.append(loaded)
            batch.sort(key=lambda f: f.path)
        report = self._apply(batch, current, owned)
        report.files = len(current)
        return report

    def _candidates(
        self, current: dict[Path, Stamp], owned: list[ObjectRef], paths: Iterable[Path] | None, force: bool
    ) -> set[Path]:
        if paths is None or force:
            gone = {Path(o.source.removeprefix("file:")) for o in owned if not o.deleting}
            return set(current) | set(self._known) | (gone - set(current))
        named = {p for p in paths if is_manifest(p, self.root)}
        moved = {p for p, stamp in current.items() if (k := self._known.get(p)) is None or k.stamp != stamp}
        vanished = {p for p in self._known if p not in current}
        return named | moved | vanished | self.waiting

    def _apply(self, batch: list[Loaded], current: dict[Path, Stamp], owned: list[ObjectRef]) -> SyncReport:
        report = SyncReport()
        in_batch = {f.path for f in batch}
        before: dict[Path, dict[Key, int]] = {}
        held: dict[Key, tuple[str, int]] = {}
        for o in owned:
            if o.deleting:
                continue
            path, key = Path(o.source.removeprefix("file:")), (o.kind, o.namespace, o.name)
            line = self._known[path].lines.get(key, 0) if path in self._known else 0
            if path in in_batch:
                before.setdefault(path, {})[key] = line
            else:
                held[key] = (str(path), line)
        duplicates = find_duplicates(batch, held, before)
        applied: list[Loaded] = []
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

    def _apply_file(self, f: Loaded, current: dict[Path, Stamp], before: dict[Path, dict[Key, int]]) -> bool:
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
        self._known[f.path] = FileState(current.get(f.path), f.digest, True, {key_of(m): m.line for m in f.manifests})
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
        self, f: Loaded, current: dict[Path, Stamp], before: dict[Path, dict[Key, int]], reason: str, exc: Exception
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

    def _delete_leftovers(self, applied: list[Loaded]) -> int:
        """Delete what applied or removed files no longer define (after applies: renamed files keep theirs)."""
        wanted = {f.source: {key_of(m) for m in f.manifests} for f in applied}
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
