"""The cluster's own rows in the Store: its identity (which labels its containers) and node overrides."""

from __future__ import annotations

import uuid

import sqlalchemy

from miniorch.store import versions
from miniorch.store.caches import OverridesCache
from miniorch.store.connect import Db
from miniorch.store.records import NodeOverrides
from miniorch.store.rows import META, NODES, upsert


class Cluster:
    def __init__(self, db: Db, overrides: OverridesCache) -> None:
        self._db, self._overrides = db, overrides

    def cluster_id(self) -> str:
        with self._db.lock, self._db.engine.begin() as conn:
            found = conn.execute(sqlalchemy.select(META.c.value).where(META.c.key == "cluster_id")).scalar()
            if found is not None:
                return str(found)
            made = uuid.uuid4().hex[:12]
            conn.execute(META.insert().values(key="cluster_id", value=made))
            return made

    def node_overrides(self) -> dict[str, NodeOverrides]:
        with self._db.lock:  # filled under the lock: a save between read and fill cannot be lost
            return self._overrides.get(self._load)

    def _load(self) -> dict[str, NodeOverrides]:
        with self._db.engine.connect() as conn:
            columns = (NODES.c.name, NODES.c.labels, NODES.c.unschedulable, NODES.c.resource_version)
            rows = conn.execute(sqlalchemy.select(*columns)).all()
        return {r.name: NodeOverrides(r.name, dict(r.labels), r.unschedulable, r.resource_version) for r in rows}

    def save_node_overrides(self, overrides: NodeOverrides) -> None:
        values = {"name": overrides.name, "labels": dict(overrides.labels), "unschedulable": overrides.unschedulable}
        with self._db.lock:
            with self._db.engine.begin() as conn:
                # MODIFIED either way: the node exists (config) whether or not it had overrides before.
                name = overrides.name
                values["resource_version"] = versions.record(conn, "Node", "", name, name, versions.MODIFIED)
                upsert(conn, NODES, "name", values)
            self._overrides.clear()
