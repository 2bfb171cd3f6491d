"""DaemonSet template history in the Store (Kubernetes' ControllerRevisions), keyed `<owner uid>/<hash>`."""

from __future__ import annotations

from collections.abc import Iterable

from miniorch.store.connect import Db
from miniorch.store.records import RevisionRecord
from miniorch.store.rows import REVISIONS, RowMapper, column_values, upsert

_C = REVISIONS.c
_REVISION = RowMapper(REVISIONS, RevisionRecord)


class Revisions:
    def __init__(self, db: Db) -> None:
        self._db = db

    def of(self, owner_uid: str) -> list[RevisionRecord]:
        with self._db.engine.connect() as conn:
            return _REVISION.all(conn, _REVISION.select().where(_C.owner_uid == owner_uid).order_by(_C.revision))

    def save(self, owner_uid: str, revisions: Iterable[RevisionRecord], delete_hashes: Iterable[str]) -> None:
        with self._db.lock, self._db.engine.begin() as conn:
            for rev in revisions:
                upsert(conn, REVISIONS, "id", {"id": f"{owner_uid}/{rev.hash}", **column_values(rev, REVISIONS)})
            ids = [f"{owner_uid}/{h}" for h in delete_hashes]
            if ids:
                conn.execute(REVISIONS.delete().where(_C.id.in_(ids)))

    def delete_of(self, owner_uid: str) -> None:
        with self._db.lock, self._db.engine.begin() as conn:
            conn.execute(REVISIONS.delete().where(_C.owner_uid == owner_uid))
