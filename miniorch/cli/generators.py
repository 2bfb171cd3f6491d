"""The manifests `ctl create job|cronjob NAME --image=I [-- CMD ARGS...]` sends, as kubectl's generators make them.

The container is named NAME; `-- CMD ARGS` becomes its `command` (the image's entrypoint is replaced,
as with kubectl). Jobs restart Never; CronJobs default to OnFailure (kubectl's `--restart`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

RESTART_POLICIES = ("OnFailure", "Never")


def _pod_template(name: str, image: str, command: Sequence[str], restart: str) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": image}
    if command:
        container["command"] = list(command)
    return {"metadata": {}, "spec": {"containers": [container], "restartPolicy": restart}}


def job(name: str, namespace: str, image: str, command: Sequence[str]) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": _pod_template(name, image, command, "Never")},
    }


def cronjob(
    name: str, namespace: str, image: str, schedule: str, command: Sequence[str], restart: str = "OnFailure"
) -> dict[str, Any]:
    if restart not in RESTART_POLICIES:
        raise ValueError(f"invalid restart policy {restart!r}: use OnFailure or Never")
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "schedule": schedule,
            # kubectl also names the jobTemplate (metadata.name), which Kubernetes ignores and miniorch refuses.
            "jobTemplate": {"spec": {"template": _pod_template(name, image, command, restart)}},
        },
    }
