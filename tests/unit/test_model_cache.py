"""ModelCache: parsed once per (uid, generation), and not kept past the objects a pass has."""

from __future__ import annotations

import datetime as dt

import yaml
from support.daemon import job_yaml

from miniorch.controllers.models import ModelCache
from miniorch.store.records import ObjectRecord

T0 = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)


def job(i: int, generation: int = 1) -> ObjectRecord:
    manifest = yaml.safe_load(job_yaml(f"j{i}", "true"))
    return ObjectRecord(f"uid-{i}", "Job", "default", f"j{i}", manifest, {}, generation=generation, created_at=T0)


def test_a_model_is_parsed_once_per_generation() -> None:
    cache = ModelCache()
    assert cache.get(job(1)) is cache.get(job(1))
    assert cache.get(job(1, generation=2)) is not cache.get(job(1))


def test_models_of_objects_no_pass_has_are_dropped() -> None:
    """Only the limit bounded it: the last 4,096 Jobs' models stayed (8 KB each)."""
    cache = ModelCache()
    jobs = [job(i) for i in range(200)]
    models = {j.uid: cache.get(j) for j in jobs}
    cache.keep({jobs[0].uid: jobs[0], jobs[1].uid: jobs[1]})
    assert cache.get(jobs[0]) is models[jobs[0].uid]  # kept: not parsed again
    assert cache.get(jobs[5]) is not models[jobs[5].uid]  # dropped: parsed again
    cache.keep({j.uid: j for j in jobs})  # nothing stale: nothing parsed again
    assert cache.get(jobs[1]) is models[jobs[1].uid]
