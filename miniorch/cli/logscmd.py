"""`ctl logs POD|job/NAME`: a pod's output, live or from the run history, with kubectl's flags.

`--previous` is the run before the latest one: of a container restarted in place (OnFailure,
a DaemonSet's restarts), or for `job/NAME` whose newest pod never restarted, the attempt before it.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from miniorch.cli.client import Client, CtlError

Namespace = Annotated[str, typer.Option("--namespace", "-n", help="Namespace of the object.")]


def logs(
    ref: Annotated[str, typer.Argument(help="POD, pod/NAME or job/NAME")],
    namespace: Namespace = "default",
    follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
    tail: Annotated[int | None, typer.Option(help="Lines from the end.")] = None,
    since: Annotated[str | None, typer.Option(help="Only lines newer than this, e.g. 10s, 5m, 1h.")] = None,
    timestamps: Annotated[bool, typer.Option("--timestamps", help="Start each line with its RFC 3339 time.")] = False,
    previous: Annotated[
        bool, typer.Option("--previous", "-p", help="The run before the latest one (a restarted container).")
    ] = False,
    all_pods: Annotated[bool, typer.Option("--all-pods", help="For job/NAME: every attempt, oldest first.")] = False,
) -> None:
    """Print a pod's output, also after its container is gone."""
    from miniorch.cli import ctl

    if follow and previous:
        raise typer.BadParameter("--follow cannot be combined with --previous (a previous run has ended)")
    c = ctl.client()
    kind, _, name = ref.rpartition("/")
    if kind and ctl.resource(kind) == "Job":
        targets = _job_pods(c, name, namespace, all_pods, previous)
    elif kind and ctl.resource(kind) != "Pod":
        raise CtlError(f"logs are read from pods or jobs, not {kind}")
    else:
        targets = [(name, previous)]
    since_seconds = ctl.parse_duration(since) if since is not None else None
    params: dict[str, Any] = {"timestamps": timestamps, "tail": tail, "since_seconds": since_seconds}
    for pod, prev in targets:
        if all_pods:
            typer.echo(f"==> pod/{pod} <==")
        if follow:
            for chunk in c.follow_log(namespace, pod, **params):
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
        else:
            typer.echo(c.pod_log(namespace, pod, **params, previous=prev), nl=False)


def _job_pods(c: Client, name: str, namespace: str, all_pods: bool, previous: bool) -> list[tuple[str, bool]]:
    """(pod, previous) to print for job/NAME: its newest pod, every pod, or the run before the newest."""
    from miniorch.cli import ctl

    job = ctl.fetch(c, "Job", name, namespace, None)[0]
    items = c.list_pods(owner=job["metadata"]["uid"])
    if not items:
        raise CtlError(f"job {name} has no pods yet")
    items.sort(key=lambda p: p["metadata"]["creationTimestamp"])
    names = [p["metadata"]["name"] for p in items]
    if all_pods:
        return [(n, previous) for n in names]
    newest = items[-1]
    if previous and not newest["status"]["containerStatuses"][0].get("restartCount"):
        if len(items) < 2:
            raise CtlError(f"job {name} has had one run only (pod/{names[-1]}): there is no previous one")
        typer.echo(f"Found {len(items)} pods, using pod/{names[-2]} (the attempt before the newest)", err=True)
        return [(names[-2], False)]
    if len(items) > 1:
        typer.echo(f"Found {len(items)} pods, using pod/{names[-1]}", err=True)
    return [(names[-1], previous)]
