"""The manifests folder: load `*.yaml`/`*.yml` files and apply what they define.

At start and on SIGHUP every file is loaded; a bad file is reported (log line
and Warning event) and changes nothing. Loading never starts a run by itself:
only objects that are new create Jobs (DESIGN.md 4.7).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import structlog

from miniorch.controllers.objects import Applier, Conflict
from miniorch.spec import loader
from miniorch.spec.errors import ManifestInvalid
from miniorch.store.records import EventRecord
from miniorch.store.store import Store

log = structlog.get_logger(__name__)


def manifest_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix in (".yaml", ".yml")
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def load_folder(folder: Path, applier: Applier, store: Store, now: dt.datetime) -> int:
    """Apply every valid file; returns how many files failed."""
    bad = 0
    for path in manifest_files(folder):
        source = f"file:{path}"
        try:
            manifests = loader.load_file(path)
            results = applier.apply(manifests, source)
        except (ManifestInvalid, Conflict) as exc:
            bad += 1
            log.warning("manifest_file_invalid", file=str(path), error=str(exc))
            store.record_event(
                EventRecord(
                    "default",
                    "File",
                    str(path),
                    f"file:{path}",
                    "Warning",
                    "InvalidManifest",
                    str(exc),
                    first_timestamp=now,
                    last_timestamp=now,
                )
            )
            continue
        for r in results:
            if r.action != "unchanged":
                log.info("manifest_applied", file=str(path), kind=r.kind, name=r.name, action=r.action)
    return bad
