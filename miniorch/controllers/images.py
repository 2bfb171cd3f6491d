"""Images without a registry: copy an image to a node from a node that has it.

`docker save` on the source is streamed into `docker load` on the target, so
the image is never held in memory; concurrent pods needing the same image on
the same node share one copy.
"""

from __future__ import annotations

import asyncio

import structlog

from miniorch import clock as clock_mod
from miniorch.controllers.nodes import NodeMonitor
from miniorch.nodes import records as nr
from miniorch.store.records import EventRecord, PodRecord
from miniorch.store.store import Store

log = structlog.get_logger(__name__)


class ImageCopier:
    def __init__(self, store: Store, monitor: NodeMonitor, clock: clock_mod.Clock) -> None:
        self._store = store
        self._monitor = monitor
        self._clock = clock
        self._copies: dict[tuple[str, str], asyncio.Task[bool]] = {}

    async def copy_to(self, node: str, image: str, pod: PodRecord) -> bool:
        """Make `image` present on `node` by copying it from a peer; False if no node has it."""
        key = (node, image)
        task = self._copies.get(key)
        if task is None:
            task = asyncio.create_task(self._copy(node, image, pod), name=f"image-copy:{node}:{image}")
            self._copies[key] = task
            task.add_done_callback(lambda _: self._copies.pop(key, None))
        return await asyncio.shield(task)

    async def _copy(self, node: str, image: str, pod: PodRecord) -> bool:
        target = self._monitor.client(node)
        if target is None:
            return False
        for name in sorted(self._monitor.nodes):
            source = self._monitor.client(name)
            if name == node or source is None or not self._monitor.reachable(name):
                continue
            try:
                if not await source.run(source.has_image, image):
                    continue
                started = self._clock.now()
                log.info("image_copy_started", image=image, source=name, target=node)
                await target.run(target.import_image, source.export_image(image))
            except nr.NodeError as exc:
                log.warning("image_copy_failed", image=image, source=name, target=node, error=str(exc))
                continue
            seconds = (self._clock.now() - started).total_seconds()
            log.info("image_copied", image=image, source=name, target=node, seconds=round(seconds, 2))
            now = self._clock.now()
            self._store.record_event(
                EventRecord(
                    pod.namespace,
                    pod.owner_kind,
                    pod.owner_name,
                    pod.owner_uid,
                    "Normal",
                    "ImageCopied",
                    f"Copied image {image} from node {name} to node {node} (no registry had it) in {seconds:.1f}s",
                    first_timestamp=now,
                    last_timestamp=now,
                )
            )
            return True
        return False
