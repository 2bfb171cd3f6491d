"""`ctl describe`: an object, its status, its pods and its recent events.

Reads Kubernetes-shaped dicts and prints kubectl-like text.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from miniorch import kinds
from miniorch.cli import output
from miniorch.cli.client import Client


def _kv(pairs: list[tuple[str, Any]]) -> str:
    width = max(len(k) for k, _ in pairs) + 2
    return "\n".join(f"{(k + ':').ljust(width)}{v}" for k, v in pairs)


def _map(d: dict[str, str] | None) -> str:
    if not d:
        return "<none>"
    return "\n" + "\n".join(f"    {k}={v}" for k, v in sorted(d.items()))


def _events(c: Client, uid: str, now: dt.datetime) -> str:
    items = c.list_events(uid=uid)
    if not items:
        return "Events:  <none>"
    rows = [
        [
            e["type"],
            e["reason"],
            output.age(e["lastTimestamp"], now) + (f" (x{e['count']})" if e["count"] > 1 else ""),
            e["message"],
        ]
        for e in items[-20:]
    ]
    return "Events:\n" + _indent(output.table(["TYPE", "REASON", "AGE", "MESSAGE"], rows))


def _indent(text: str, n: int = 2) -> str:
    return "\n".join(" " * n + line for line in text.splitlines())


def _template(spec: dict[str, Any]) -> str:
    tspec = spec.get("template", {}).get("spec", {})
    lines = [
        "Pod Template:",
        f"  Labels:  {_map(spec.get('template', {}).get('metadata', {}).get('labels'))}",
        f"  Restart Policy:  {tspec.get('restartPolicy', '')}",
        "  Containers:",
    ]
    for ctr in tspec.get("containers", []):
        lines.append(f"   {ctr.get('name')}:")
        lines.append(f"    Image:    {ctr.get('image')}")
        if ctr.get("command"):
            lines.append(f"    Command:  {' '.join(ctr['command'])}")
        if ctr.get("args"):
            lines.append(f"    Args:     {' '.join(ctr['args'])}")
        for env in ctr.get("env", []):
            lines.append(f"    Env:      {env['name']}={_env_value(env)}")
        for source in ctr.get("envFrom", []):
            ref = source.get("configMapRef") or source.get("secretRef") or {}
            kind = "ConfigMap" if "configMapRef" in source else "Secret"
            lines.append(f"    Env From: {ref.get('name')} {kind} (prefix {source.get('prefix') or '<none>'})")
    if tspec.get("nodeSelector"):
        lines.append(f"  Node-Selectors:  {_map(tspec['nodeSelector'])}")
    return "\n".join(lines)


def _env_value(env: dict[str, Any]) -> str:
    """A literal, or where the value comes from (kubectl's words), never the value of a Secret."""
    source = env.get("valueFrom") or {}
    for field, kind in (("secretKeyRef", "secret"), ("configMapKeyRef", "config map")):
        if field in source:
            ref = source[field]
            return f"<set to the key '{ref.get('key')}' in {kind} '{ref.get('name')}'>"
    return str(env.get("value", ""))


def _pods_table(pods: list[dict[str, Any]], now: dt.datetime) -> str:
    if not pods:
        return "Pods:  <none>"
    rows = []
    for p in pods:
        cs = (p["status"].get("containerStatuses") or [{}])[0]
        term = cs.get("state", {}).get("terminated", {})
        code = term.get("exitCode", cs.get("lastState", {}).get("terminated", {}).get("exitCode", ""))
        rows.append(
            [
                p["metadata"]["name"],
                p["spec"].get("nodeName") or "<none>",
                output.pod_status(p),
                "" if code is None else str(code),
                str(cs.get("restartCount", 0)),
                output.age(p["metadata"].get("creationTimestamp"), now),
            ]
        )
    text = "Pods:\n" + _indent(output.table(["NAME", "NODE", "STATUS", "EXIT CODE", "RESTARTS", "AGE"], rows))
    return text + "".join(f"\n  {name}: {why}" for name, why in _not_run(pods))


def _not_run(pods: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Why pods whose container did not run (refused by the engine, no image...) are waiting or failed."""
    out = []
    for p in pods:
        cs = (p["status"].get("containerStatuses") or [{}])[0]
        state = cs.get("state", {})
        ran = "running" in state or state.get("terminated", {}).get("exitCode", -1) >= 0
        if p["status"].get("message") and not ran:
            out.append((p["metadata"]["name"], f"{output.pod_status(p)}: {p['status']['message']}"))
    return out


def job(c: Client, obj: dict[str, Any], now: dt.datetime) -> str:
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    start, end = output.parse_ts(status.get("startTime")), output.parse_ts(status.get("completionTime"))
    pairs: list[tuple[str, Any]] = [
        ("Name", meta["name"]),
        ("Namespace", meta.get("namespace")),
        ("Selector", f"batch.kubernetes.io/controller-uid={meta['uid']}"),
        ("Labels", _map(meta.get("labels"))),
        ("Annotations", _map(meta.get("annotations"))),
        ("Parallelism", spec.get("parallelism", 1)),
        ("Completions", spec.get("completions", "<unset>")),
        ("Completion Mode", spec.get("completionMode", "NonIndexed")),
        ("Suspend", spec.get("suspend", False)),
        ("Backoff Limit", spec.get("backoffLimit", 6)),
        ("Start Time", status.get("startTime", "<none>")),
    ]
    if end:
        pairs.append(("Completed At", status.get("completionTime")))
    if start:
        pairs.append(("Duration", output.human_duration(((end or now) - start).total_seconds())))
    pairs.append(
        (
            "Pods Statuses",
            f"{status.get('active', 0)} Active ({status.get('ready', 0)} Ready) / "
            f"{status.get('succeeded', 0)} Succeeded / {status.get('failed', 0)} Failed",
        )
    )
    conds = status.get("conditions", [])
    cond_text = (
        "\n"
        + _indent(
            output.table(
                ["TYPE", "STATUS", "REASON", "MESSAGE"],
                [[x["type"], x["status"], x.get("reason", ""), x.get("message", "")] for x in conds],
            )
        )
        if conds
        else "<none>"
    )
    pairs.append(("Conditions", cond_text))
    pods = c.list_pods(owner=meta["uid"])
    return "\n".join([_kv(pairs), _template(spec), _pods_table(pods, now), _events(c, meta["uid"], now)])


def pod(c: Client, obj: dict[str, Any], now: dt.datetime) -> str:
    meta, spec, status = obj["metadata"], obj["spec"], obj["status"]
    cs = (status.get("containerStatuses") or [{}])[0]
    owner = (meta.get("ownerReferences") or [{}])[0]
    state = cs.get("state", {})
    ((state_name, detail),) = state.items() if state else (("unknown", {}),)
    pairs: list[tuple[str, Any]] = [
        ("Name", meta["name"]),
        ("Namespace", meta["namespace"]),
        ("Node", spec.get("nodeName") or "<none>"),
        ("Start Time", status.get("startTime", "<none>")),
        ("Labels", _map(meta.get("labels"))),
        ("Status", output.pod_status(obj)),
        ("Reason", status.get("reason", "")),
        ("Message", status.get("message", "")),
        ("Controlled By", f"{owner.get('kind')}/{owner.get('name')}"),
        ("Image", cs.get("image")),
        ("State", f"{state_name.capitalize()} {detail}"),
        ("Restart Count", cs.get("restartCount", 0)),
    ]
    if cs.get("lastState"):
        pairs.append(("Last State", cs["lastState"]))
    return "\n".join([_kv(pairs), _events(c, meta["uid"], now)])


def node(c: Client, obj: dict[str, Any], now: dt.datetime) -> str:
    meta, status = obj["metadata"], obj["status"]
    ready = status["conditions"][0]
    info = status.get("nodeInfo", {})
    pairs: list[tuple[str, Any]] = [
        ("Name", meta["name"]),
        ("Labels", _map(meta.get("labels"))),
        ("Unschedulable", obj["spec"]["unschedulable"]),
        ("Address", status["addresses"][0]["address"]),
        ("Ready", f"{ready['status']} ({ready.get('reason')}: {ready.get('message')})"),
        ("Last Heartbeat", ready.get("lastHeartbeatTime") or "<never>"),
        ("Docker Version", info.get("containerRuntimeVersion", "<unknown>")),
        ("OS", info.get("osImage", "")),
        ("Kernel", info.get("kernelVersion", "")),
        ("CPU", status.get("capacity", {}).get("cpu", "")),
        ("Memory", status.get("capacity", {}).get("memory", "")),
    ]
    pods = [
        p
        for p in c.list_pods()
        if p["spec"].get("nodeName") == meta["name"] and p["status"]["phase"] in ("Pending", "Running", "Unknown")
    ]
    return "\n".join([_kv(pairs), "Active " + _pods_table(pods, now), _events(c, f"node:{meta['name']}", now)])


def cronjob(c: Client, obj: dict[str, Any], now: dt.datetime) -> str:
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    job_spec = spec.get("jobTemplate", {}).get("spec", {})
    nxt = output.next_schedule(obj, now)
    active = [r["name"] for r in status.get("active") or []]
    pairs: list[tuple[str, Any]] = [
        ("Name", meta["name"]),
        ("Namespace", meta.get("namespace")),
        ("Labels", _map(meta.get("labels"))),
        ("Annotations", _map(meta.get("annotations"))),
        ("Schedule", spec.get("schedule")),
        ("Time Zone", spec.get("timeZone") or "UTC (default)"),
        ("Concurrency Policy", spec.get("concurrencyPolicy", "Allow")),
        ("Suspend", spec.get("suspend", False)),
        ("Successful Job History Limit", spec.get("successfulJobsHistoryLimit", 3)),
        ("Failed Job History Limit", spec.get("failedJobsHistoryLimit", 1)),
        ("Starting Deadline Seconds", spec.get("startingDeadlineSeconds", "<unset>")),
        ("Parallelism", job_spec.get("parallelism", "<unset>")),
        ("Completions", job_spec.get("completions", "<unset>")),
        ("Backoff Limit", job_spec.get("backoffLimit", 6)),
        ("Last Schedule Time", status.get("lastScheduleTime", "<unset>")),
        ("Last Successful Time", status.get("lastSuccessfulTime", "<unset>")),
        (
            "Next Schedule Time",
            output.ts(nxt) + f" (in {output.human_duration((nxt - now).total_seconds())})" if nxt else "<none>",
        ),
        ("Active Jobs", ", ".join(active) if active else "<none>"),
    ]
    return "\n".join([_kv(pairs), _template(job_spec), _events(c, meta["uid"], now)])


def describe(c: Client, kind: str, obj: dict[str, Any], now: dt.datetime) -> str:
    # The registry's describer, loaded on first use (DaemonSet's builds on this module's helpers).
    describer = kinds.get(kind).describe if kind in kinds.PLURAL else None
    if describer is not None:
        return str(kinds.load(describer)(c, obj, now))
    import yaml

    return str(yaml.safe_dump(obj, sort_keys=False))
