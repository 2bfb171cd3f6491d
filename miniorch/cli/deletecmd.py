"""`ctl delete`: objects by name, selector, --all or file, waited for until gone; and one pod of
any kind, which its controller replaces (DESIGN 10).

Output lines follow kubectl (`job.batch "pi" deleted`, `pod "web-1" deleted`).
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from miniorch.cli import output
from miniorch.cli.client import Client, CtlError, NotFoundError
from miniorch.cli.edit import Namespace, _ctl, read_sources, wait_gone


def delete(
    kind: Annotated[str | None, typer.Argument()] = None,
    name: Annotated[str | None, typer.Argument()] = None,
    filename: Annotated[str | None, typer.Option("--filename", "-f")] = None,
    selector: Annotated[
        str | None, typer.Option("--selector", "-l", help="Delete the objects with these labels.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Delete every object of KIND in the namespace.")] = False,
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", help="With -l or --all: in every namespace.")
    ] = False,
    namespace: Namespace = "default",
    wait: Annotated[bool, typer.Option(help="Wait until the object and its containers are gone.")] = True,
    timeout: Annotated[str, typer.Option(help="How long to wait, e.g. 60s or 2m.")] = "120s",
) -> None:
    """Delete objects; their pods' containers are stopped and removed on every node."""
    ctl = _ctl()
    c = ctl.client()
    if kind and not filename and ctl.split_ref(kind, name)[0] == "Pod":
        delete_pods(c, ctl.split_ref(kind, name)[1], namespace, wait, ctl.parse_duration(timeout))
        return
    targets = _delete_targets(c, kind, name, filename, selector, all_, None if all_namespaces else namespace)
    if targets is None:
        typer.echo("No resources found")
        return
    for k, ns, n in targets:
        c.delete_object(k, ns, n)
    for k, ns, n in targets:  # all requested first, then waited for: they stop in parallel
        if wait:
            wait_gone(c, k, n, ns, ctl.parse_duration(timeout))
        typer.echo(f'{output.GROUPS[k]} "{n}" deleted')


def delete_pods(c: Client, name: str | None, namespace: str, wait: bool, timeout: float) -> None:
    """`delete pod NAME`: its container is stopped and removed, its controller replaces it (the
    replacement may have the same name: waited for is this pod, by its uid)."""
    if not name:
        raise typer.BadParameter("give the pod's name, e.g. 'delete pod web-1'")
    uid = c.delete_pod(namespace, name)["metadata"]["uid"]
    deadline = time.monotonic() + timeout
    while wait:
        try:
            pod = c.get_pod(namespace, name)
        except NotFoundError:
            break
        if pod["metadata"]["uid"] != uid or pod["status"]["phase"] in ("Succeeded", "Failed"):
            break
        if time.monotonic() >= deadline:
            raise CtlError(f"timed out waiting for pod/{name} to be deleted")
        time.sleep(0.2)
    typer.echo(f'pod "{name}" deleted')


def _delete_targets(
    c: Client,
    kind: str | None,
    name: str | None,
    filename: str | None,
    selector: str | None,
    all_: bool,
    namespace: str | None,
) -> list[tuple[str, str, str]] | None:
    """(kind, namespace, name) to delete; None when a selection matched nothing."""
    ctl = _ctl()
    if filename:
        from miniorch.spec import loader

        return [(m.kind, m.namespace, m.name) for s, t in read_sources(filename) for m in loader.load_text(t, s)]
    if not kind:
        raise typer.BadParameter("give KIND NAME, KIND -l SELECTOR, KIND --all or -f FILE")
    k, n = ctl.split_ref(kind, name)
    if k not in ctl.PLURAL:
        raise CtlError(f"deleting {k} objects is not supported; delete their owner instead")
    if n and (selector or all_):
        raise typer.BadParameter("a name cannot be combined with --selector or --all")
    if n:
        return [(k, namespace or "default", n)]
    if not (selector or all_):
        raise typer.BadParameter(f"a resource name, -l SELECTOR or --all is required, e.g. 'delete {kind} NAME'")
    items = ctl.fetch(c, k, None, namespace, selector)
    found = [(k, i["metadata"]["namespace"], i["metadata"]["name"]) for i in items]
    return found or None
