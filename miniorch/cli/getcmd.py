"""`ctl get` and `ctl describe`: read objects from the daemon and print them as kubectl does.

`get` takes several kinds (`jobs,cronjobs`, `all`, `job/a cronjob/b`), label and field
selectors, `--sort-by`, `--show-labels` and every -o format; the pure parts live in
`output` and `columns`. Registered on `ctl.app` by `ctl`.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from miniorch import kinds
from miniorch.cli import completion, output
from miniorch.cli.client import Client, CtlError, NotFoundError

if TYPE_CHECKING:
    from miniorch.cli import columns

# kubectl's `all` category, in the order kubectl prints it, restricted to our kinds.
ALL = ("Pod", "Service", "DaemonSet", "StatefulSet", "CronJob", "Job")
HUMAN = (None, "", "wide")

Namespace = Annotated[str, typer.Option("--namespace", "-n", help="Namespace of the object.")]


def fetch(
    c: Client,
    kind: str,
    name: str | None,
    namespace: str | None,
    selector: str | None,
    pod_fields: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """One object (NAME given; NotFoundError if absent) or the list, narrowed by namespace and labels
    (and for pods by `pod_fields`, the API's node and phase filters: a hint, `get` filters again)."""
    if kind == "Node":
        return [c.get_node(name)] if name else c.list_nodes(selector)
    if kind == "Pod":
        if name:
            return [c.get_pod(namespace or "default", name)]
        return c.list_pods(namespace, selector, **(pod_fields or {}))
    if kind == "Event":
        return [e for e in c.list_events(namespace) if not name or e["involvedObject"]["name"] == name]
    if name:
        return [c.get_object(kind, namespace or "default", name)]
    return c.list_objects(kind, namespace, selector)


def _resource(text: str) -> str:
    if text.lower() == "all":
        raise CtlError('"all" is a category of kinds: use it alone (get all), not as TYPE/NAME')
    kind = kinds.resolve(text)
    if kind is None:
        raise CtlError(f'the server doesn\'t have a resource type "{text}"')
    return kind


def targets(args: list[str]) -> tuple[list[tuple[str, list[str]]], bool]:
    """[(kind, names)] in print order, and whether several kinds were asked for (names then say their kind)."""
    if not args:
        raise typer.BadParameter("give a resource type, e.g. 'get jobs', 'get jobs,cronjobs' or 'get all'")
    if any("/" in a for a in args):
        if not all("/" in a for a in args):
            raise CtlError(
                "there is no need to specify a resource type as a separate argument when passing arguments in "
                "resource/name form (e.g. 'miniorch ctl get resource/<resource_name>' instead of "
                "'miniorch ctl get resource resource/<resource_name>')"
            )
        out: list[tuple[str, list[str]]] = []
        for arg in args:
            kind, _, name = arg.partition("/")
            k = _resource(kind)
            if out and out[-1][0] == k:
                out[-1][1].append(name)
            else:
                out.append((k, [name]))
        return out, len({k for k, _ in out}) > 1
    requested: list[str] = []
    for text in args[0].split(","):
        for k in ALL if text.lower() == "all" else (_resource(text),):
            if k not in requested:
                requested.append(k)
    several = len(requested) > 1 or args[0].lower() == "all"
    return [(k, list(args[1:])) for k in requested], several


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise CtlError(f"cannot read the {what} file {path}: {exc.strerror}") from exc


def _format(output_fmt: str | None) -> tuple[str | None, list[columns.Column] | None]:
    """(-o value for `output.render`, custom columns); -o *-file=F read from F."""
    from miniorch.cli import columns  # selectors, sorting and custom columns load when a get runs

    fmt = output_fmt
    if fmt and fmt.startswith("jsonpath-file="):
        fmt = "jsonpath=" + _read(fmt.partition("=")[2], "jsonpath template")
    if fmt and fmt.startswith("custom-columns-file="):
        return fmt, columns.parse_custom_columns_file(_read(fmt.partition("=")[2], "custom-columns"))
    if fmt and (fmt == "custom-columns" or fmt.startswith("custom-columns=")):
        return fmt, columns.parse_custom_columns(fmt.partition("=")[2])
    if fmt in ("jsonpath", "jsonpath-as-json"):
        raise CtlError("template format specified but no template given")
    return fmt, None


class Query:
    """What one `get` asks for (kinds, names, selectors), checked up front; `read()` fetches it again on each refresh."""

    def __init__(self, args: list[str], namespace: str | None, selector: str | None, field_selector: str | None):
        from miniorch.cli import columns

        self.targets, self.several = targets(args)
        self.namespace, self.selector = namespace, selector
        self.fields = columns.parse_field_selector(field_selector)
        for kind, _ in self.targets:
            columns.check_fields(kind, self.fields, field_selector or "", selector)
        self.errors: list[str] = []
        self.texts: dict[str, str] = {}  # kind: its table as the daemon printed it
        self.cells: dict[str, list[list[str]]] = {}  # kind: its Table's columns, from a daemon that does not print

    def read(
        self, c: Client, sort_by: str | None, printing: dict[str, bool] | None = None
    ) -> list[tuple[str, list[dict[str, Any]]]]:
        """With `printing` (`Client.list_printed`'s flags), whole lists of pods and workloads come
        printed by the daemon (`texts`; its blocks are empty), from an older one as its Table's cells."""
        from miniorch.cli import columns

        blocks: list[tuple[str, list[dict[str, Any]]]] = []
        self.errors, self.texts, self.cells = [], {}, {}
        # `-A --field-selector metadata.namespace=X` is served by the API's own namespace filter.
        pinned = next((r.value for r in self.fields if r.field == "metadata.namespace" and r.equal), None)
        server = {"spec.nodeName": "node", "status.phase": "phase"}  # pod fields the API filters itself
        pod_fields = {server[r.field]: r.value for r in self.fields if r.field in server and r.equal}
        for kind, names in self.targets:
            ns = None if kind == "Node" else self.namespace or pinned
            if printing is not None and not names and not self.fields and not sort_by and kind not in ("Node", "Event"):
                answer = c.list_printed(
                    kind, ns, self.selector, {**printing, "showKind": self.several or printing["showKind"]}
                )
                if isinstance(answer, str):
                    self.texts[kind] = answer.removesuffix("\n")
                    blocks.append((kind, []))
                else:
                    self.cells[kind], objects = served_cells(answer, kind)
                    blocks.append((kind, objects))
                continue
            items: list[dict[str, Any]] = []
            wanted: list[str | None] = [*names] or [None]  # None: the whole list
            for name in wanted:
                try:
                    items += fetch(c, kind, name, ns, self.selector, pod_fields if kind == "Pod" else None)
                except NotFoundError as exc:
                    self.errors.append(str(exc))
            items = columns.sort_items(columns.select_fields(items, self.fields), sort_by or "")
            blocks.append((kind, items))
        return blocks

    @property
    def single(self) -> bool:
        """One named object: -o json prints it alone rather than in a List."""
        return not self.several and len(self.targets) == 1 and len(self.targets[0][1]) == 1


def served_cells(table: dict[str, Any], kind: str) -> tuple[list[list[str]], list[dict[str, Any]]]:
    """The plain columns' cells of a Table (its priority-0 columns, in order), column by column, and
    each row's object (`{}` when the rows carry none): the cells made by the daemon's printers."""
    plain = [i for i, col in enumerate(table.get("columnDefinitions") or []) if col.get("priority", 0) == 0]
    if len(plain) != len(kinds.get(kind).columns.headers):
        raise CtlError(
            f"the daemon's table of {kinds.get(kind).plural} has other columns than this ctl; update one of them"
        )
    listed = table.get("rows") or []
    every = list(zip(*(row["cells"] for row in listed), strict=True))
    columns = [[c if type(c) is str else str(c) for c in every[i]] for i in plain] if listed else []
    return columns, [row.get("object") or {} for row in listed]


def render(
    q: Query,
    blocks: list[tuple[str, list[dict[str, Any]]]],
    fmt: str | None,
    cols: list[columns.Column] | None,
    now: dt.datetime,
    **flags: Any,
) -> str:
    """Every block as kubectl prints it: one table per kind, or one List for the machine formats."""
    every = [i for _, items in blocks for i in items]
    if cols is None and fmt not in HUMAN and fmt != "name":
        if q.single and not every:
            return ""
        kind = blocks[0][0] if blocks else "Pod"
        single = q.single and bool(every)
        return output.render(kind, every, fmt, now, single, allow_missing_keys=flags["allow_missing_template_keys"])
    texts = []
    for kind, items in blocks:
        if kind in q.texts:
            texts.append(q.texts[kind])
            continue
        if not items:
            continue
        show_ns = flags["all_namespaces"] and kind != "Node"
        if cols is not None:
            texts.append(custom_table(cols, items, flags["no_headers"]))
        else:
            texts.append(
                output.render(
                    kind,
                    items,
                    fmt,
                    now,
                    cells=q.cells.get(kind),
                    show_namespace=show_ns,
                    show_labels=flags["show_labels"],
                    with_kind=q.several or flags["show_kind"],
                    no_headers=flags["no_headers"],
                )
            )
    separator = "\n" if fmt == "name" else "\n\n"
    return separator.join(t for t in texts if t)


def custom_table(cols: list[columns.Column], items: list[dict[str, Any]], no_headers: bool) -> str:
    """-o custom-columns: the header row (unless no_headers), then one row per object."""
    from miniorch.cli import columns

    rows = columns.custom_rows(cols, items)
    if no_headers:  # widths from the rows alone, as kubectl's tabwriter without a header line
        return output.table([""] * len(cols), rows).split("\n", 1)[1]
    return output.table([c.header for c in cols], rows)


def get(
    resources: Annotated[
        list[str],
        typer.Argument(
            help="KIND[,KIND...] [NAME...], all, or KIND/NAME...; kinds: jobs, cronjobs, ds, pods, nodes, events; also notifications",
            autocompletion=completion.complete_resource,
        ),
    ],
    namespace: Namespace = "default",
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A")] = False,
    selector: Annotated[
        str | None, typer.Option("--selector", "-l", help="Label selector, e.g. app=etl,tier!=web")
    ] = None,
    field_selector: Annotated[
        str | None,
        typer.Option(help="e.g. status.phase=Running,spec.nodeName!=node-1 (=, ==, !=; comma is AND)"),
    ] = None,
    output_fmt: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="wide, json, yaml, name, jsonpath=T, jsonpath-file=F, custom-columns=H:PATH,..., custom-columns-file=F",
        ),
    ] = None,
    sort_by: Annotated[str | None, typer.Option(help="JSONPath to sort by, e.g. .metadata.creationTimestamp")] = None,
    show_labels: Annotated[bool, typer.Option("--show-labels", help="Add a LABELS column.")] = False,
    show_kind: Annotated[bool, typer.Option("--show-kind", help="Name objects as KIND/NAME.")] = False,
    no_headers: Annotated[bool, typer.Option("--no-headers", help="Print the rows without the header line.")] = False,
    allow_missing_template_keys: Annotated[
        str, typer.Option(help="true: a missing field prints nothing in -o jsonpath; false: it is an error.")
    ] = "true",
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Print again whenever something changes.")] = False,
) -> None:
    """Show objects, as `kubectl get`."""
    from miniorch.cli import ctl

    # kubectl (pflag) reads `-o=json`, `-l=app=x` and `-n=ns` as the value after the "=".
    namespace, selector, output_fmt = (_short(v) for v in (namespace, selector, output_fmt))
    if len(resources) == 1 and resources[0].lower() in ("notifications", "notification", "notify"):
        from miniorch.cli import notifications  # not a kind: the notification queue (DESIGN 12)

        typer.echo(notifications.show(ctl.client(), output_fmt))
        return
    ns = None if all_namespaces else namespace
    q = Query(resources, ns, selector, field_selector)
    fmt, cols = _format(output_fmt)
    flags = {
        "all_namespaces": all_namespaces,
        "show_labels": show_labels,
        "show_kind": show_kind,
        "no_headers": no_headers,
        "allow_missing_template_keys": _bool("--allow-missing-template-keys", allow_missing_template_keys),
    }
    c = ctl.client()
    if watch and [k for k, _ in q.targets] == ["Event"]:
        _watch_events(c, q, fmt)
        return
    last = None
    # The default table of a whole list is printed by the daemon (10,000 pods: 0.7 MB of text, not 13 MB of pods).
    printing = None
    if fmt in (None, "") and cols is None:
        printing = {
            "showNamespace": all_namespaces,
            "showLabels": show_labels,
            "showKind": show_kind,
            "noHeaders": no_headers,
        }
    while True:
        blocks = q.read(c, sort_by, printing)
        text = render(q, blocks, fmt, cols, _now(), **flags)
        if not watch:
            _print_once(q, blocks, fmt, text)
            return
        if text != last:
            typer.echo(text + "\n")
            last = text
        time.sleep(1)


def _short(value: Any) -> Any:
    return value[1:] if isinstance(value, str) and value.startswith("=") else value


def _bool(flag: str, value: str) -> bool:
    """A kubectl boolean flag given a value (--flag=false)."""
    if value.lower() in ("true", "1", "t"):
        return True
    if value.lower() in ("false", "0", "f"):
        return False
    raise typer.BadParameter(f'{flag} takes true or false, not "{value}"')


def _print_once(q: Query, blocks: list[tuple[str, list[dict[str, Any]]]], fmt: str | None, text: str) -> None:
    found = any(items for _, items in blocks) or any(q.texts.values())
    for message in q.errors[:-1]:
        typer.echo(f"error: {message}", err=True)
    if not found and not q.errors and (fmt in HUMAN or (fmt or "").startswith("custom-columns")):
        where = f" in {q.namespace} namespace" if q.namespace and any(k != "Node" for k, _ in q.targets) else ""
        typer.echo(f"No resources found{where}.", err=True)
    elif text:
        typer.echo(text, nl=not (fmt or "").startswith(("jsonpath=", "jsonpath-as-json=")))  # kubectl adds no newline
    if q.errors:
        raise NotFoundError(q.errors[-1])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _watch_events(c: Client, q: Query, fmt: str | None) -> None:
    """Print events as the daemon streams them: the current ones, then each new or repeated one."""
    from miniorch.cli import columns

    header = True
    names = set(q.targets[0][1])
    for change in c.watch_events(q.namespace):
        event = change["object"]
        if names and event["involvedObject"]["name"] not in names:
            continue
        if not columns.select_fields([event], q.fields):
            continue
        text = output.render("Event", [event], fmt, _now(), single=False, show_namespace=q.namespace is None)
        if fmt in HUMAN and not header:
            text = text.split("\n", 1)[1] if "\n" in text else ""
        header = False
        if text:
            typer.echo(text)


def describe(
    kind: Annotated[str, typer.Argument()],
    name: Annotated[str | None, typer.Argument()] = None,
    namespace: Namespace = "default",
) -> None:
    """Show an object in detail, with its pods and recent events."""
    from miniorch.cli import ctl
    from miniorch.cli import describe as describe_mod

    k, name = ctl.split_ref(kind, name)
    c = ctl.client()
    items = fetch(c, k, name, namespace, None)
    texts = [describe_mod.describe(c, k, item, _now()) for item in items]
    typer.echo("\n\n".join(texts))
