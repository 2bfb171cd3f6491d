"""`ctl get events -w` over the Kubernetes watch: the current events, then each new or repeated one.

A list, then a watch from the list's resourceVersion (nothing recorded between the two is missed).
When the daemon ends the watch (`timeoutSeconds`) or the version has left its change log (410),
the events are listed again and watched from there: what changed meanwhile is the difference
between the lists. Each event is told once per version of it; deleted ones (expired by the
daemon's event TTL) are not told.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, cast

from miniorch.api import models
from miniorch.cli.client import CtlError, ExpiredError, Http


def changes(http: Http, path: str) -> Generator[models.WatchEvent, None, None]:
    """ADDED for an event not told yet, MODIFIED for a newer version of one (its count went up); endless."""
    sent: dict[str, str] = {}  # uid -> the resourceVersion told
    while True:
        listed = cast(dict[str, Any], http.request("GET", path))
        items: list[models.Manifest] = listed["items"]
        listed_uids = {_uid(e) for e in items}
        sent = {uid: rv for uid, rv in sent.items() if uid in listed_uids}  # the expired ones forgotten
        for event in items:
            if (change := _change(sent, event)) is not None:
                yield change
        version = str((listed.get("metadata") or {}).get("resourceVersion") or "0")
        try:
            yield from _watch(http, path, version, sent)
        except ExpiredError:
            continue  # too old for the change log: listed again


def _watch(http: Http, path: str, version: str, sent: dict[str, str]) -> Generator[models.WatchEvent, None, None]:
    """One watch from `version`, until the daemon ends it."""
    stream = http.watch(path, {"watch": "true", "resourceVersion": version})
    try:
        for line in stream:
            obj = cast(models.Manifest, line.get("object") or {})
            if line.get("type") == "ERROR":
                message = str(obj.get("message") or "the daemon ended the event watch")
                raise ExpiredError(message) if obj.get("code") == 410 else CtlError(message)
            if line.get("type") == "DELETED":
                sent.pop(_uid(obj), None)
            elif (change := _change(sent, obj)) is not None:
                yield change
    finally:
        stream.close()


def _uid(event: models.Manifest) -> str:
    return str((event.get("metadata") or {}).get("uid"))


def _change(sent: dict[str, str], event: models.Manifest) -> models.WatchEvent | None:
    uid, rv = _uid(event), str((event.get("metadata") or {}).get("resourceVersion"))
    if sent.get(uid) == rv:
        return None
    kind = "MODIFIED" if uid in sent else "ADDED"
    sent[uid] = rv
    return {"type": kind, "object": event}
