"""DaemonSets in `ctl`: `describe ds` and `rollout status/history/undo ds/NAME`.

Output follows kubectl; `describe` adds a per-node table saying why a pod is
missing or not ready there (the daemon's own view, from `status.nodes`).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Any

import typer

from miniorch.api.models import RollbackRequest
from miniorch.cli import describe as describe_mod
from miniorch.cli import output
from miniorch.cli.client import Client, CtlError

rollout = typer.Typer(help="Manage the rollout of a DaemonSet or StatefulSet.", no_args_is_help=True)

Namespace = Annotated[str, typer.Option("--namespace", "-n", help="Namespace of the object.")]


def describe(c: Client, obj: dict[str, Any], now: dt.datetime) -> str:
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    labels = spec.get("selector", {}).get("matchLabels") or {}
    tspec = spec.get("template", {}).get("spec", {})
    pods = c.list_pods(owner=meta["uid"])
    phases = [p["status"]["phase"] for p in pods]
    strategy = spec.get("updateStrategy", {})
    rolling = strategy.get("rollingUpdate") or {}
    pairs: list[tuple[str, Any]] = [
        ("Name", meta["name"]),
        ("Namespace", meta.get("namespace")),
        ("Selector", ",".join(f"{k}={v}" for k, v in sorted(labels.items()))),
        (
            "Node-Selector",
            ",".join(f"{k}={v}" for k, v in sorted((tspec.get("nodeSelector") or {}).items())) or "<none>",
        ),
        ("Labels", describe_mod._map(meta.get("labels"))),
        ("Annotations", describe_mod._map(meta.get("annotations"))),
        ("Update Strategy", strategy.get("type", "RollingUpdate")),
    ]
    if rolling:
        pairs.append(
            (
                "Rolling Update",
                f"maxUnavailable {rolling.get('maxUnavailable', 1)}, maxSurge {rolling.get('maxSurge', 0)}",
            )
        )
    pairs += [
        ("Min Ready Seconds", spec.get("minReadySeconds", 0)),
        ("Desired Number of Nodes Scheduled", status.get("desiredNumberScheduled", 0)),
        ("Current Number of Nodes Scheduled", status.get("currentNumberScheduled", 0)),
        ("Number of Nodes Scheduled with Up-to-date Pods", status.get("updatedNumberScheduled", 0)),
        ("Number of Nodes Scheduled with Available Pods", status.get("numberAvailable", 0)),
        ("Number of Nodes Misscheduled", status.get("numberMisscheduled", 0)),
        (
            "Pods Status",
            f"{phases.count('Running')} Running / {phases.count('Pending')} Waiting / "
            f"{phases.count('Succeeded')} Succeeded / {phases.count('Failed')} Failed",
        ),
    ]
    nodes = status.get("nodes") or []
    rows = [[n.get("name", ""), n.get("pod") or "<none>", n.get("state", ""), n.get("message", "")] for n in nodes]
    node_text = (
        "Nodes:\n" + describe_mod._indent(output.table(["NODE", "POD", "STATE", "MESSAGE"], rows))
        if rows
        else "Nodes:  <none>"
    )
    live = [p for p in pods if p["status"]["phase"] in ("Pending", "Running", "Unknown")]
    return "\n".join(
        [
            describe_mod._kv(pairs),
            describe_mod._template(spec),
            node_text,
            describe_mod._pods_table(live, now),
            describe_mod._events(c, meta["uid"], now),
        ]
    )


def _ds(c: Client, ref: str, namespace: str) -> tuple[str, dict[str, Any]]:
    from miniorch.cli import ctl

    kind, name = ctl.split_ref(ref, None)
    if kind not in ("DaemonSet", "StatefulSet") or not name:
        raise typer.BadParameter(f"{ref!r}: rollout works on daemonsets and statefulsets, e.g. ds/NAME or sts/NAME")
    return name, ctl.fetch(c, kind, name, namespace, None)[0]


def sts_status_message(sts: dict[str, Any]) -> tuple[str, bool]:
    from miniorch.cli import statefulsets

    return statefulsets.status_message(sts)


def status_message(ds: dict[str, Any]) -> tuple[str, bool]:
    """kubectl's DaemonSetStatusViewer: (message, done)."""
    name, status = ds["metadata"]["name"], ds.get("status", {})
    if ds["metadata"].get("generation", 0) > status.get("observedGeneration", 0):
        return "Waiting for daemon set spec update to be observed...", False
    desired = status.get("desiredNumberScheduled", 0)
    updated, available = status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0)
    if updated < desired:
        return (
            f'Waiting for daemon set "{name}" rollout to finish: {updated} out of {desired} new pods have been updated...',
            False,
        )
    if available < desired:
        return (
            f'Waiting for daemon set "{name}" rollout to finish: {available} of {desired} updated pods are available...',
            False,
        )
    return f'daemon set "{name}" successfully rolled out', True


@rollout.command("status")
def rollout_status(
    ref: Annotated[str, typer.Argument(help="ds/NAME")],
    namespace: Namespace = "default",
    watch: Annotated[bool, typer.Option("--watch/--no-watch", "-w", help="Follow until done.")] = True,
    timeout: Annotated[str, typer.Option(help="Give up after this long (0: never), e.g. 5m.")] = "0s",
) -> None:
    """Follow a rollout; exit 0 once every node runs an available pod of the current revision."""
    from miniorch.cli import ctl

    c = ctl.client()
    limit = ctl.parse_duration(timeout)
    deadline = time.monotonic() + limit if limit > 0 else None
    last = None
    while True:
        name, ds = _ds(c, ref, namespace)
        if ds.get("spec", {}).get("updateStrategy", {}).get("type") == "OnDelete":
            raise CtlError("rollout status is only available for RollingUpdate strategy type")
        message, done = status_message(ds) if ds["kind"] == "DaemonSet" else sts_status_message(ds)
        if message != last:
            typer.echo(message)
            last = message
        if done:
            return
        if not watch:
            raise typer.Exit(1)
        if deadline is not None and time.monotonic() >= deadline:
            raise CtlError("timed out waiting for the condition")
        time.sleep(0.5)


@rollout.command("history")
def rollout_history(
    ref: Annotated[str, typer.Argument(help="ds/NAME")],
    namespace: Namespace = "default",
    revision: Annotated[int, typer.Option("--revision", help="Show the pod template of this revision.")] = 0,
) -> None:
    """List the revisions of a DaemonSet, oldest first."""
    from miniorch.cli import ctl

    c = ctl.client()
    name, ds = _ds(c, ref, namespace)
    group = f"{ds['kind'].lower()}.apps"
    items = c.revisions(namespace, name, ds["kind"])
    if revision:
        match = [r for r in items if r["revision"] == revision]
        if not match:
            raise CtlError(f"unable to find the specified revision {revision}")
        typer.echo(f"{group}/{name} with revision #{revision}")
        typer.echo(describe_mod._template(match[0]["data"]["spec"]))
        return
    typer.echo(f"{group}/{name}")
    rows = [
        [str(r["revision"]), r["metadata"].get("annotations", {}).get("kubernetes.io/change-cause") or "<none>"]
        for r in items
    ]
    typer.echo(output.table(["REVISION", "CHANGE-CAUSE"], rows))


@rollout.command("undo")
def rollout_undo(
    ref: Annotated[str, typer.Argument(help="ds/NAME")],
    namespace: Namespace = "default",
    to_revision: Annotated[
        int, typer.Option("--to-revision", help="Revision to go back to (default: the previous).")
    ] = 0,
) -> None:
    """Roll back to an earlier revision; pods already on it are not restarted."""
    from miniorch.cli import ctl

    c = ctl.client()
    name, obj = _ds(c, ref, namespace)
    group = f"{obj['kind'].lower()}.apps"
    result = c.rollback(namespace, name, RollbackRequest(to_revision), obj["kind"])
    if result["action"] == "skipped":
        typer.echo(f"{group}/{name} skipped rollback (current template already matches revision {result['revision']})")
    else:
        typer.echo(f"{group}/{name} rolled back")


RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


@rollout.command("restart")
def rollout_restart(ref: Annotated[str, typer.Argument(help="ds/NAME")], namespace: Namespace = "default") -> None:
    """Replace every pod of a DaemonSet by a rolling update (the template gets kubectl's restartedAt annotation)."""
    from miniorch.cli import ctl

    c = ctl.client()
    name, obj = _ds(c, ref, namespace)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
    c.patch_object(obj["kind"], namespace, name, patch)
    typer.echo(f"{obj['kind'].lower()}.apps/{name} restarted")
