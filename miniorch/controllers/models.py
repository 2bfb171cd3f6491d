"""Validated models of stored objects, parsed once per (uid, generation).

A stored manifest only changes with its generation, so each pass reuses the
pydantic model instead of validating the same dict again. Which model and which
pod template belong to a kind is the kind registry's.
"""

from __future__ import annotations

from collections.abc import Collection

from miniorch import kinds
from miniorch.spec import loader
from miniorch.spec.job import Job
from miniorch.spec.models import ObjectModel
from miniorch.spec.pod import PodTemplateSpec
from miniorch.store.records import ObjectRecord


class ModelCache:
    def __init__(self, limit: int = 4096) -> None:
        self._limit = limit
        self._models: dict[tuple[str, int], ObjectModel] = {}

    def get(self, obj: ObjectRecord) -> ObjectModel:
        key = (obj.uid, obj.generation)
        model = self._models.get(key)
        if model is None:
            if len(self._models) >= self._limit:
                self._models.clear()
            model = self._models[key] = loader.parse_object(obj.manifest, source=f"{obj.kind.lower()}/{obj.name}").obj
        return model

    def keep(self, uids: Collection[str]) -> None:
        """Once a pass: drop the models of objects the pass no longer has (finished, deleted).
        Bounded only by `limit`, a daemon held the last 4,096 Jobs' models (8 KB each) whatever
        was still running; a sweep runs when the stale could outnumber the kept."""
        if len(self._models) > 2 * len(uids) + 64:
            self._models = {key: model for key, model in self._models.items() if key[0] in uids}

    def job(self, obj: ObjectRecord) -> Job:
        model = self.get(obj)
        assert isinstance(model, Job)
        return model

    def template(self, obj: ObjectRecord) -> PodTemplateSpec | None:
        """The pod template of an object that owns pods (Job, DaemonSet), else None."""
        if not kinds.get(obj.kind).owns_pods:
            return None
        template = kinds.pod_template(obj.kind, self.get(obj))
        assert isinstance(template, PodTemplateSpec)
        return template
