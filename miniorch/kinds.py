"""Resource names shared by the API and `ctl`: kubectl's aliases for each kind.

`resolve("ds")` -> "DaemonSet"; `PLURAL["Job"]` -> "jobs" (the API path segment).
"""

from __future__ import annotations

WORKLOADS = ("Job", "CronJob", "DaemonSet")
PLURAL = {
    "Job": "jobs",
    "CronJob": "cronjobs",
    "DaemonSet": "daemonsets",
    "Pod": "pods",
    "Node": "nodes",
    "Event": "events",
}
_ALIASES = {
    "Job": ("jobs", "job"),
    "CronJob": ("cronjobs", "cronjob", "cj"),
    "DaemonSet": ("daemonsets", "daemonset", "ds"),
    "Pod": ("pods", "pod", "po"),
    "Node": ("nodes", "node", "no"),
    "Event": ("events", "event", "ev"),
}
_BY_ALIAS = {alias: kind for kind, aliases in _ALIASES.items() for alias in aliases}


def resolve(name: str) -> str | None:
    """The kind for a resource name as kubectl accepts it (`jobs`, `job.batch`, `ds`), or None."""
    return _BY_ALIAS.get(name.lower().split(".")[0])
