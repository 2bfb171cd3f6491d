"""Docker named volumes of StatefulSet replicas: finding and removing them (creation happens with the
container that first mounts one, labelled by its Mount). Called through `NodeClient.volumes()`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import docker.errors

from miniorch.nodes import records


class Volumes:
    """The volume calls of one node's engine; errors come out translated, as the client's do."""

    def __init__(self, api: Any, translate: Callable[[Exception, str], records.NodeError]) -> None:
        self._api = api
        self._translate = translate

    def list_owned(self, kind: str, name: str, namespace: str) -> dict[str, dict[str, str]]:
        """name -> labels of the volumes miniorch made for one object (a StatefulSet's replicas)."""
        labels = [f"{records.OWNER_KIND}={kind}", f"{records.OWNER_NAME}={name}", f"{records.NAMESPACE}={namespace}"]
        try:
            found = self._api.volumes(filters={"label": labels})
        except Exception as exc:
            raise self._translate(exc, "list volumes") from exc
        return {str(v["Name"]): dict(v.get("Labels") or {}) for v in found.get("Volumes") or []}

    def remove(self, name: str) -> None:
        """Remove a volume; a missing one is not an error, one still in use is (ContainerConflict)."""
        try:
            self._api.remove_volume(name)
        except docker.errors.NotFound:
            return
        except Exception as exc:
            raise self._translate(exc, f"remove volume {name}") from exc
