"""Manifest files: which files of a folder count, reading one, and duplicates across files.

The one reader behind `miniorch validate`, `ctl apply -f FILE|DIR` (and `diff`, `delete -f`)
and the watched folder (`controllers/manifestsync.py`), so that all three name the same files
and give the same messages for them. A file is the unit: one error keeps all of it out.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from miniorch.spec import errors as errors_mod
from miniorch.spec.errors import ManifestError, ManifestInvalid

if TYPE_CHECKING:
    from miniorch.spec.loader import Manifest

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
    """Every manifest file under root with its stamp (hidden and symlinked folders are not entered)."""
    found: dict[Path, Stamp] = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            path = Path(folder, name)
            if is_manifest(path, root):
                try:
                    found[path] = Stamp.of(path.stat())
                except OSError:  # vanished between listing and stat, or a dangling link
                    continue
    return found


def manifest_files(folder: Path) -> list[Path]:
    """The manifest files of a folder, sorted (none if it is no folder)."""
    return sorted(scan(folder)) if folder.is_dir() else []


@dataclass(frozen=True)
class Loaded:
    """One file as it is now: its objects, or the errors that keep it from being applied.

    `removed` files define nothing; `digest` is None for them. `text` is what was read.
    """

    path: Path
    digest: str | None
    manifests: tuple[Manifest, ...] = ()
    errors: tuple[ManifestError, ...] = ()
    removed: bool = False
    text: str = ""

    @property
    def source(self) -> str:
        return f"file:{self.path}"


def key_of(m: Manifest) -> Key:
    return (m.kind, m.namespace, m.name)


def _unreadable(path: Path, digest: str | None, reason: str) -> Loaded:
    return Loaded(path, digest, errors=(ManifestError(str(path), None, None, "", f"cannot read file: {reason}"),))


def read_file(path: Path, settle: bool = True, parse: bool = True) -> Loaded | None:
    """Load one file. With `settle` (the watcher), None while it is empty or being written
    (its size or time moved while read): the write that completes it brings another event.
    Without `parse`, only read (size, encoding): `ctl apply -f FILE` leaves the YAML to the daemon.
    """
    try:
        before = Stamp.of(path.stat())
        if before.size > errors_mod.MAX_MANIFEST_BYTES:  # refused unread
            error = errors_mod.too_big(str(path), before.size)
            return Loaded(path, f"size:{before.size}:{before.mtime_ns}", errors=(error,))
        data = path.read_bytes()
        after = Stamp.of(path.stat())
    except FileNotFoundError:
        return Loaded(path, None, removed=True)
    except OSError as exc:
        return _unreadable(path, f"error:{exc.errno}", str(exc.strerror))
    if settle and (before != after or not data):
        return None
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _unreadable(path, digest, "not UTF-8 text")
    if not parse:
        return Loaded(path, digest, text=text)
    from miniorch.spec import loader  # pydantic models: not for a file that is only read

    try:
        return Loaded(path, digest, tuple(loader.load_text(text, str(path))), text=text)
    except ManifestInvalid as exc:
        return Loaded(path, digest, errors=tuple(exc.errors), text=text)


def find_duplicates(
    batch: Sequence[Loaded], held: dict[Key, tuple[str, int]], before: dict[Path, dict[Key, int]]
) -> dict[Path, list[ManifestError]]:
    """Files of the batch that define an object another file already defines (pure).

    `held`: objects of files outside the batch, as (path, line). `before`: what
    each batch file defined until now; a file that stays invalid keeps it. The
    first file (in the batch's order) to claim a name wins; a file refused for a
    duplicate claims none of its names, so each pass may refuse more files.
    """
    failed = {f.path for f in batch if f.errors}
    found: dict[Path, list[ManifestError]] = {}
    while True:
        claims = dict(held)
        for f in (f for f in batch if f.path in failed):
            for key, line in before.get(f.path, {}).items():
                claims.setdefault(key, (str(f.path), line))
        new: dict[Path, list[ManifestError]] = {}
        for f in (f for f in batch if f.path not in failed):
            if errors := _clashes(f, claims):
                new[f.path] = errors
            else:
                claims.update({key_of(m): (str(f.path), m.line) for m in f.manifests})
        if not new:
            return found
        found.update(new)
        failed |= set(new)


def _clashes(f: Loaded, claims: dict[Key, tuple[str, int]]) -> list[ManifestError]:
    """The objects of `f` that another file claims already."""
    return [
        errors_mod.duplicate_error(m, *other)
        for m in f.manifests
        if (other := claims.get(key_of(m))) is not None and other[0] != str(f.path)
    ]


def _read_named(path: Path, parse: bool) -> Loaded:
    """A file named on a command line: read as it is now (empty means no objects)."""
    loaded = read_file(path, settle=False, parse=parse)
    if loaded is None or loaded.removed:
        return Loaded(path, None, errors=(ManifestError(str(path), None, None, "", "no such file or directory"),))
    return loaded


def read_paths(paths: Iterable[Path], parse: bool = True) -> tuple[list[Loaded], list[ManifestError]]:
    """Named files and the manifest files of named folders, each once, with the watcher's rules.

    Returns the good files and every error: each file's own (reading, YAML,
    validation) first, then duplicates across the files, refused as the watched
    folder refuses them on a fresh start (the first file to claim a name wins).
    """
    batch: dict[Path, Loaded] = {}
    for path in paths:
        for file in manifest_files(path) if path.is_dir() else [path]:
            if file not in batch:
                batch[file] = _read_named(file, parse)
    duplicates = find_duplicates(list(batch.values()), {}, {})
    errors = [e for f in batch.values() for e in f.errors] + [e for dup in duplicates.values() for e in dup]
    return [f for f in batch.values() if not f.errors and f.path not in duplicates], errors


def load_paths(paths: Iterable[Path]) -> list[Manifest]:
    """Objects of files and folders (*.yaml, *.yml, recursive); raises ManifestInvalid with every error."""
    good, errors = read_paths(paths)
    if errors:
        raise ManifestInvalid(errors)
    return [m for f in good for m in f.manifests]
