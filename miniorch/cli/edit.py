"""`ctl` verbs that change objects: apply (and its dry runs), diff, create, patch, scale, wait
(delete is `cli/deletecmd.py`).

Registered on the `ctl` app by `miniorch.cli.ctl`; output lines and exit codes follow kubectl
(`job.batch/pi created`, `job.batch "pi" deleted`, `diff` exits 0 same, 1 different, 2 error).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from miniorch import kinds
from miniorch.api.models import ApplyRequest, ApplyResponse, DryRunRequest, DryRunResponse
from miniorch.cli import output
from miniorch.cli.client import Client, CtlError, NotFoundError

Namespace = Annotated[str, typer.Option("--namespace", "-n", help="Namespace of the object.")]
#: what `scale` sets, by kind (kubectl once scaled Jobs through spec.parallelism).
SCALE_FIELDS = {"Job": "parallelism", "StatefulSet": "replicas"}
DRY_RUN_SUFFIX = {"server": " (server dry run)", "client": " (dry run)"}
#: How often `ctl wait` reads the object: what a condition costs to notice (a serial Job's end), against
#: about 2 ms of the daemon's CPU per read.
WAIT_POLL_SECONDS = 0.1


def _ctl() -> Any:
    from miniorch.cli import ctl  # ctl registers this module's commands: imported when one runs

    return ctl


def read_sources(filename: str) -> list[tuple[str, str]]:
    """(source, text) of `-` (stdin), a file or a folder's manifest files, read as `validate` and the
    watched folder read them; any error of any file (duplicates across files too) and nothing is sent.
    """
    if filename == "-":
        return [("<stdin>", sys.stdin.read())]
    path = Path(filename)
    if not path.exists():
        raise CtlError(f'the path "{filename}" does not exist')
    from miniorch.spec import files

    # A folder is parsed here, for duplicates across its files; one file only read (its size and
    # encoding checked): the daemon parses it with the same loader and the same messages.
    good, errors = files.read_paths([path], parse=path.is_dir())
    if errors:
        raise CtlError("\nerror: ".join(str(e) for e in errors))  # one `error: ` line each, as `validate`
    if not good:
        raise CtlError(f"no .yaml or .yml files in {path}")
    return [(str(f.path), f.text) for f in good]


def apply(
    filename: Annotated[str, typer.Option("--filename", "-f", help="File, folder or - for stdin.")],
    dry_run: Annotated[
        str,
        typer.Option("--dry-run", help="none; server: full server-side checks, nothing stored; client: local checks"),
    ] = "none",
    output_fmt: Annotated[
        str | None, typer.Option("--output", "-o", help="With --dry-run=server: yaml or json of the objects as stored")
    ] = None,
) -> None:
    """Create or update objects from YAML manifests."""
    if dry_run not in ("none", "server", "client"):
        raise typer.BadParameter(f'invalid --dry-run value {dry_run!r}: must be "none", "server", or "client"')
    if output_fmt is not None and (dry_run != "server" or output_fmt not in ("yaml", "json")):
        raise typer.BadParameter("-o yaml|json goes with --dry-run=server (the objects as the daemon would store them)")
    c = _ctl().client()
    sources = read_sources(filename)
    if dry_run == "client":
        _apply_client_dry_run(c, sources)
        return
    previews = [c.dry_run(DryRunRequest(s, t)) for s, t in sources]
    if dry_run == "server" and output_fmt:
        import datetime as dt

        merged = [r["merged"] for preview in previews for r in preview["results"]]
        kind = merged[0]["kind"] if merged else "Job"
        typer.echo(output.render(kind, merged, output_fmt, dt.datetime.now(dt.UTC), single=len(merged) == 1))
        return
    if dry_run == "server":  # everything was checked above, and nothing stored
        for preview in previews:
            _print_results(preview, DRY_RUN_SUFFIX["server"])
        return
    for source, text in sources:
        _print_results(c.apply(ApplyRequest(source, text)), "")


def _print_results(result: ApplyResponse | DryRunResponse, suffix: str) -> None:
    for warning in result.get("warnings", []):
        typer.echo(f"Warning: {warning}", err=True)
    for r in result["results"]:
        typer.echo(f"{output.GROUPS[r['kind']]}/{r['name']} {r['action']}{suffix}")


def _apply_client_dry_run(c: Client, sources: list[tuple[str, str]]) -> None:
    """kubectl's `--dry-run=client`: the manifests are checked here (schema, defaults), not by the daemon."""
    from miniorch.spec import loader

    ctl = _ctl()
    for source, text in sources:
        for m in loader.load_text(text, source):
            for warning in m.warnings:
                typer.echo(f"Warning: {warning}", err=True)
            try:
                ctl.fetch(c, m.kind, m.name, m.namespace, None)
                action = "configured"
            except NotFoundError:
                action = "created"
            typer.echo(f"{output.GROUPS[m.kind]}/{m.name} {action}{DRY_RUN_SUFFIX['client']}")


def diff(filename: Annotated[str, typer.Option("--filename", "-f", help="File, folder or - for stdin.")]) -> None:
    """Show what `apply -f` would change: exit 0 no differences, 1 differences, 2 error (as kubectl diff)."""
    from miniorch.cli import configdata, yamldiff

    try:
        c = _ctl().client()
        texts = []
        for source, text in read_sources(filename):
            for r in c.dry_run(DryRunRequest(source, text, as_manager=True))["results"]:
                live, merged = configdata.masked(r["live"], r["merged"])  # a Secret's values stay hidden
                name = yamldiff.file_name(merged["apiVersion"], r["kind"], r["namespace"], r["name"])
                texts.append(yamldiff.render(live, merged, name))
    except CtlError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo("".join(texts), nl=False)
    raise typer.Exit(1 if any(texts) else 0)


def wait_gone(c: Client, kind: str, name: str, namespace: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _ctl().fetch(c, kind, name, namespace, None)
        except NotFoundError:
            return
        time.sleep(0.3)
    raise CtlError(f"timed out waiting for {output.GROUPS[kind]}/{name} to be deleted")


def create(
    kind: Annotated[str, typer.Argument(help="job or cronjob")],
    name: Annotated[str, typer.Argument(help="Name of the new object.")],
    command: Annotated[list[str] | None, typer.Argument(help="After --: the container's command and args.")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="cronjob/NAME: run that CronJob's template now.")] = None,
    image: Annotated[str | None, typer.Option("--image", help="Image of the container (named NAME).")] = None,
    schedule: Annotated[str | None, typer.Option("--schedule", help="For cronjob: a cron expression.")] = None,
    restart: Annotated[str, typer.Option("--restart", help="For cronjob: OnFailure or Never.")] = "OnFailure",
    dry_run: Annotated[str, typer.Option("--dry-run", help="none, server or client: nothing is stored")] = "none",
    output_fmt: Annotated[
        str | None, typer.Option("--output", "-o", help="yaml, json or name: print the object")
    ] = None,
    namespace: Namespace = "default",
    from_literal: Annotated[
        list[str] | None, typer.Option("--from-literal", help="configmap/secret: KEY=VALUE")
    ] = None,
    from_file: Annotated[list[str] | None, typer.Option("--from-file", help="configmap/secret: [KEY=]PATH")] = None,
    from_env_file: Annotated[
        list[str] | None, typer.Option("--from-env-file", help="configmap/secret: KEY=VALUE lines")
    ] = None,
    type_: Annotated[str, typer.Option("--type", help="secret: the Secret's type")] = "Opaque",
) -> None:
    """Create a Job or CronJob from an image (`-- CMD ARGS` is its command), a Job from a CronJob's template,
    or a ConfigMap or Secret (`create secret generic NAME`) from literals and files."""
    from miniorch.cli import generators

    ctl = _ctl()
    k = ctl.resource(kind)
    if k in ("ConfigMap", "Secret"):
        from miniorch.cli import configdata

        names = [name, *(command or [])]
        if k == "Secret" and names[0] != "generic":
            raise typer.BadParameter("create secret generic NAME --from-literal=KEY=VALUE (only generic Secrets)")
        if len(names) != (2 if k == "Secret" else 1):
            raise typer.BadParameter(f"create {kind} {'generic ' if k == 'Secret' else ''}NAME takes one name")
        values = configdata.collect(from_literal or [], from_file or [], from_env_file or [])
        manifest = (
            configdata.secret(names[1], namespace, values, type_)
            if k == "Secret"
            else configdata.configmap(names[0], namespace, values)
        )
        if dry_run == "client":
            _print_created(manifest, output_fmt, DRY_RUN_SUFFIX["client"])
            return
        _create(ctl.client(), manifest, dry_run == "server", output_fmt)
        return
    if k == "Job" and from_:
        if image or command:
            raise typer.BadParameter("--from cannot be combined with --image or a command")
        source_kind, source_name = ctl.split_ref(from_, None)
        if source_kind != "CronJob" or not source_name:
            raise typer.BadParameter("--from must be cronjob/NAME")
        ctl.client().run_cronjob(namespace, source_name, name)
        typer.echo(f"job.batch/{name} created")
        return
    if k not in ("Job", "CronJob"):
        raise typer.BadParameter("create makes a job (--image or --from=cronjob/CJ) or a cronjob (--image, --schedule)")
    if not image:
        raise typer.BadParameter(f"--image is required, e.g. 'create {kind} {name} --image=busybox -- date'")
    if k == "Job":
        manifest = generators.job(name, namespace, image, command or [])
    else:
        if not schedule:
            raise typer.BadParameter("--schedule is required, e.g. --schedule='*/5 * * * *'")
        try:
            manifest = generators.cronjob(name, namespace, image, schedule, command or [], restart)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
    if dry_run not in ("none", "server", "client"):
        raise typer.BadParameter(f'invalid --dry-run value {dry_run!r}: must be "none", "server", or "client"')
    if dry_run == "client":  # kubectl's way to write a manifest: nothing is sent
        _print_created(manifest, output_fmt, DRY_RUN_SUFFIX["client"])
        return
    _create(ctl.client(), manifest, dry_run == "server", output_fmt)


def _create(c: Client, manifest: dict[str, Any], dry_run: bool, output_fmt: str | None) -> None:
    """POST a new object; refused when one of that name exists (create never updates)."""
    ctl = _ctl()
    kind, meta = manifest["kind"], manifest["metadata"]
    group = output.GROUPS[kind]
    try:
        ctl.fetch(c, kind, meta["name"], meta["namespace"], None)
        raise CtlError(
            f"failed to create {kind.lower()}: {ctl.PLURAL[kind]}{group.partition('.')[1]}{group.partition('.')[2]} "
            f'"{meta["name"]}" already exists'
        )
    except NotFoundError:
        pass
    source, text = f"ctl create {kind.lower()}", json.dumps(manifest)
    if dry_run:
        [preview] = c.dry_run(DryRunRequest(source, text))["results"]
        _print_created(preview["merged"], output_fmt, DRY_RUN_SUFFIX["server"])
        return
    result = c.apply(ApplyRequest(source, text))
    if output_fmt:
        _print_created(ctl.fetch(c, kind, meta["name"], meta["namespace"], None)[0], output_fmt, "")
        return
    _print_results(result, "")


def _print_created(obj: dict[str, Any], output_fmt: str | None, suffix: str) -> None:
    import datetime as dt

    if not output_fmt:
        typer.echo(f"{output.GROUPS[obj['kind']]}/{obj['metadata']['name']} created{suffix}")
        return
    if output_fmt not in ("yaml", "json", "name"):
        raise typer.BadParameter(f"unsupported output format {output_fmt!r}: use yaml, json or name")
    typer.echo(output.render(obj["kind"], [obj], output_fmt, dt.datetime.now(dt.UTC), single=True))


def patch(
    kind: Annotated[str, typer.Argument()],
    name: Annotated[str | None, typer.Argument()] = None,
    patch_json: Annotated[str, typer.Option("--patch", "-p", help="A JSON merge patch.")] = "{}",
    patch_type: Annotated[str, typer.Option("--type", help="Only 'merge' is supported.")] = "merge",
    namespace: Namespace = "default",
) -> None:
    """Change an object with a JSON merge patch, e.g. -p '{"spec":{"suspend":true}}'."""
    ctl = _ctl()
    k, n = ctl.split_ref(kind, name)
    if patch_type not in ("merge", "strategic"):
        raise typer.BadParameter("only --type merge is supported")
    try:
        body = json.loads(patch_json)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--patch is not valid JSON: {exc}") from exc
    if k == "Node":
        raise CtlError("nodes are changed with 'label', 'cordon' and 'uncordon'")
    if k not in ctl.PLURAL:
        raise CtlError(
            f"{kinds.PLURAL[k]} cannot be patched; patch the object that owns them (jobs, cronjobs, daemonsets)"
        )
    result = ctl.client().patch_object(k, namespace, n, body)
    suffix = "patched" if result["action"] == "patched" else "patched (no change)"
    typer.echo(f"{output.GROUPS[k]}/{n} {suffix}")


def scale(
    ref: Annotated[str, typer.Argument(help="KIND/NAME or KIND")],
    name: Annotated[str | None, typer.Argument()] = None,
    replicas: Annotated[int, typer.Option("--replicas", help="The new number (a Job's spec.parallelism).")] = -1,
    namespace: Namespace = "default",
) -> None:
    """Set how many pods run at once: a Job's spec.parallelism."""
    ctl = _ctl()
    k, n = ctl.split_ref(ref, name)
    if not n:
        raise typer.BadParameter("give KIND/NAME or KIND NAME, e.g. 'scale job/pi --replicas=3'")
    if replicas < 0:
        raise typer.BadParameter("--replicas=N is required (N >= 0)")
    field = SCALE_FIELDS.get(k)
    if field is None:
        scalable = ", ".join(ctl.PLURAL[kind] for kind in SCALE_FIELDS)
        raise CtlError(f"{kinds.PLURAL[k]} cannot be scaled (no replicas): scalable kinds are {scalable}")
    ctl.client().patch_object(k, namespace, n, {"spec": {field: replicas}})
    typer.echo(f"{output.GROUPS[k]}/{n} scaled")


def wait(
    ref: Annotated[str, typer.Argument(help="KIND/NAME, e.g. job/pi")],
    for_: Annotated[str, typer.Option("--for", help="condition=COND[=value] or delete")],
    timeout: Annotated[str, typer.Option(help="e.g. 60s, 5m")] = "30s",
    namespace: Namespace = "default",
) -> None:
    """Wait until a condition is met: exit 0 when met, 1 on timeout."""
    ctl = _ctl()
    kind, name = ctl.split_ref(ref, None)
    if not name:
        raise typer.BadParameter("give KIND/NAME, e.g. job/pi")
    c = ctl.client()
    deadline = time.monotonic() + ctl.parse_duration(timeout)
    label = f"{output.GROUPS[kind]}/{name}"
    if for_ == "delete":
        wait_gone(c, kind, name, namespace, ctl.parse_duration(timeout))
        typer.echo(f"{label} condition met")
        return
    if not for_.startswith("condition="):
        raise typer.BadParameter("--for must be condition=NAME or delete")
    cond, _, want = for_[len("condition=") :].partition("=")
    want = want or "True"
    while True:
        try:
            obj = ctl.fetch(c, kind, name, namespace, None)[0]
            conds = obj.get("status", {}).get("conditions", [])
            if any(x.get("type", "").lower() == cond.lower() and x.get("status") == want for x in conds):
                typer.echo(f"{label} condition met")
                return
        except NotFoundError:
            pass
        if time.monotonic() >= deadline:
            raise CtlError(f"timed out waiting for the condition on {ctl.PLURAL.get(kind, kind.lower())}/{name}")
        time.sleep(WAIT_POLL_SECONDS)
