"""Schemathesis fuzzes a real daemon on the real Docker test nodes through the daemon's own OpenAPI
document (`/openapi/v2`), over the TCP listener with TLS and the bearer token (issue 15).

Every operation gets a bounded number of generated requests, schema-conforming and not, a share of
them aimed at objects that exist or built on one. Each answer comes within the request timeout, is
never a 5xx, and a 4xx is a Kubernetes `Status` of its own code (responses are not checked against
the schema: the document types objects, not every Status a verb can answer). Afterwards the daemon
is alive and healthy, logged no crash, and every object it serves reads back whole and valid.
"""

from __future__ import annotations

import copy
import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Ok
from support import dockernodes
from support.daemon import Daemon, job_yaml
from support.kubectl import TOKEN, tls_daemon

from miniorch.api.kube import patch
from miniorch.controllers.objects import merge_patch
from miniorch.spec import loader

EXAMPLES = 6  # per operation and generation mode: 59 operations, about 1200 requests in all
# Bodies with a pod template are generated at a third of a second each: fewer of them keep the test under a minute.
TEMPLATE_EXAMPLES = 3
WITH_TEMPLATES = ("jobs", "cronjobs", "daemonsets", "statefulsets")
REQUEST_TIMEOUT = 10.0  # seconds for one answer; longer is a hang
WATCH_SECONDS = 1  # a fuzzed watch is a legitimate open stream: it ends after this
MUTATIONS = 4  # requests sent from each case aimed "mutated", one field or parameter replaced in each
CRASHES = ("task_crashed", "thread_crashed", "daemon_task_died", "unraisable_exception", "event_loop_error")

IMAGE = "miniorch.local/busybox:latest"
SEEDS = (
    job_yaml("fuzz-job", "sleep 3600")
    + f"""---
apiVersion: batch/v1
kind: CronJob
metadata: {{name: fuzz-cron}}
spec:
  schedule: "0 0 1 1 *"
  suspend: true
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{{name: c, image: {IMAGE}, command: [sleep, "1"]}}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: fuzz-ds}}
spec:
  selector: {{matchLabels: {{app: fuzz-ds}}}}
  template:
    metadata: {{labels: {{app: fuzz-ds}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{{name: c, image: {IMAGE}, command: [sleep, "3600"]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: fuzz-svc}}
spec:
  clusterIP: None
  selector: {{app: fuzz-sts}}
  ports: [{{port: 80, name: web}}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: fuzz-sts}}
spec:
  serviceName: fuzz-svc
  replicas: 1
  selector: {{matchLabels: {{app: fuzz-sts}}}}
  template:
    metadata: {{labels: {{app: fuzz-sts}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{{name: c, image: {IMAGE}, command: [sleep, "3600"]}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: fuzz-config}}
data: {{key: value}}
---
apiVersion: v1
kind: Secret
metadata: {{name: fuzz-secret}}
stringData: {{password: hunter2}}
"""
)
SEEDED = {
    "jobs": "fuzz-job",
    "cronjobs": "fuzz-cron",
    "daemonsets": "fuzz-ds",
    "services": "fuzz-svc",
    "statefulsets": "fuzz-sts",
    "configmaps": "fuzz-config",
    "secrets": "fuzz-secret",
}
# How a generated case is sent: as generated, aimed at an object that exists, (POST and PUT) also with
# its body laid over that object's manifest, so that it gets past validation more often, or that and
# then one field or query parameter replaced by a value of the kinds that broke the daemon before.
AIMS = ("as generated", "existing", "over an existing object", "mutated")


def _nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


# Values of the kinds that broke the daemon once (tests/unit/test_kube_bad_requests.py): an int64 past any
# date, integers past 64 bits, a lone surrogate, nesting past the body limit, and every JSON type.
MUTANTS: tuple[Any, ...] = (
    2**62,
    2**63,
    10**30,
    -1,
    1e308,
    "",
    "\ud800",
    "a" * 5000,
    None,
    True,
    [],
    {},
    [1],
    _nested(150),
)
# Fields a seed may not have but a client may send (the merge patch of a node takes spec.unschedulable).
EXTRA_PATHS = (
    ("metadata",),
    ("metadata", "annotations"),
    ("metadata", "annotations", "fuzz"),
    ("metadata", "ownerReferences"),
    ("spec", "activeDeadlineSeconds"),
    ("spec", "unschedulable"),
)
QUERY_MUTANTS = ("99999999999999999999999", "-1", "1e999", "nan", "\x00", "a" * 2000, "\U0001d7d8", "0")


Sent = dict[str, Any]  # a request as requests' keyword arguments: method, url, headers, params, json


@dataclass
class Target:
    base_url: str
    verify: str
    session: requests.Session
    names: dict[str, list[str]]  # plural -> names that exist
    manifests: dict[str, dict[str, Any]]  # plural -> the seed's manifest as served (no status)
    queries: dict[tuple[str, str], list[str]]  # (METHOD, path) -> its documented query parameters


@pytest.fixture
def fuzzed(docker_nodes: list[dockernodes.DockerNode], tmp_path: Path) -> Iterator[tuple[Daemon, str, Path]]:
    """A daemon with seed objects, its TCP listener on TLS with a token: (daemon, base URL, CA file)."""
    with tls_daemon(tmp_path, docker_nodes) as (d, url, ca):
        d.apply(SEEDS, "seeds.yaml")
        yield d, url, ca


def _plural(path: str) -> str:
    """`/apis/batch/v1/namespaces/{namespace}/jobs/{name}` -> `jobs`."""
    parts = [p for p in path.split("/") if p and not p.startswith("{")]
    return parts[-1]


def _aim(case: Case[Any], aim: str, pick: int, target: Target) -> None:
    """Point the case at an existing object and, for POST and PUT, lay its body over that object."""
    params = case.path_parameters if isinstance(case.path_parameters, dict) else None
    plural = _plural(case.operation.path)
    names = target.names.get(plural) or []
    if aim == "as generated" or params is None:
        return
    if "namespace" in params:
        params["namespace"] = "default"
    if "name" in params and names:
        params["name"] = names[pick % len(names)]
    manifest = target.manifests.get(plural)
    if aim == "existing" or manifest is None or case.method not in ("POST", "PUT"):
        return
    body = merge_patch(copy.deepcopy(manifest), case.body) if isinstance(case.body, dict) else copy.deepcopy(manifest)
    meta: dict[str, Any] = body["metadata"] if isinstance(body.get("metadata"), dict) else {}
    meta.pop("resourceVersion", None)
    meta["name"] = params.get("name") or f"fuzz-new-{pick}"
    body["metadata"] = meta
    case.body = body


def _paths(value: Any) -> list[tuple[str | int, ...]]:
    """Every key path in `value` (objects' keys and arrays' indexes), shallowest first."""
    out: list[tuple[str | int, ...]] = []
    todo: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while todo:
        node, path = todo.pop(0)
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            out.append((*path, key))
            todo.append((child, (*path, key)))
    return out


def _set(body: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """`body` with `value` at `path` (objects made on the way as needed)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(body, list) and isinstance(head, int) and head < len(body):
        body[head] = _set(body[head], rest, value)
        return body
    node = body if isinstance(body, dict) else {}
    node[str(head)] = _set(node.get(str(head)), rest, value)
    return node


def _mutate(sent: Sent, operation: Any, data: st.DataObject, target: Target) -> None:
    """Replace one field of the body (POST, PUT, PATCH as a merge patch, DELETE's options) or one
    documented query parameter by a value from MUTANTS or QUERY_MUTANTS."""
    method = operation.method.upper()
    queries = target.queries.get((method, operation.path)) or []
    manifest = target.manifests.get(_plural(operation.path)) or {}
    if queries and (method in ("GET", "DELETE") and data.draw(st.booleans())):
        query = sent.setdefault("params", {})
        name = data.draw(st.sampled_from(queries))
        query[name] = data.draw(st.sampled_from(QUERY_MUTANTS))
        if name in ("resourceVersion", "timeoutSeconds") and data.draw(st.booleans()):
            query["watch"] = "true"  # they matter only to a watch
        return
    value = data.draw(st.sampled_from(MUTANTS))
    if method in ("POST", "PUT"):
        paths = _paths(sent.get("json")) + list(EXTRA_PATHS)
        sent["json"] = _set(sent.get("json"), data.draw(st.sampled_from(paths)), value)
    elif method == "PATCH":
        paths = _paths(manifest) + list(EXTRA_PATHS)
        sent["headers"]["Content-Type"] = "application/merge-patch+json"
        sent["json"] = _set({}, data.draw(st.sampled_from(paths)), value)
    elif method == "DELETE":
        sent["headers"]["Content-Type"] = "application/json"
        sent["json"] = data.draw(st.sampled_from([value, {"propagationPolicy": value}]))


def _bounded(sent: Sent) -> None:
    """A watch ends after WATCH_SECONDS: its timeoutSeconds is capped (a garbage one is left, for a 400).
    A log is not followed (it would end only with its container)."""
    query = sent.get("params")
    if not isinstance(query, dict):
        return
    if "follow" in query:
        query["follow"] = "false"
    if str(query.get("watch")).lower() not in ("1", "true"):
        return
    given_timeout = query.get("timeoutSeconds")
    try:
        number = float(given_timeout) if given_timeout is not None else None
    except (TypeError, ValueError):
        return
    if number is None or not 0 <= number <= WATCH_SECONDS:
        query["timeoutSeconds"] = WATCH_SECONDS


def _problem(response: requests.Response, elapsed: float) -> str | None:
    """What is wrong with one answer, or None."""
    if elapsed > REQUEST_TIMEOUT:
        return f"answered after {elapsed:.1f} s"
    if response.status_code >= 500:
        return f"{response.status_code}: {response.text[:500]}"
    if 400 <= response.status_code < 500:
        try:
            body = response.json()
        except ValueError:
            return f"{response.status_code} without a JSON Status: {response.text[:300]}"
        if not isinstance(body, dict) or body.get("kind") != "Status" or body.get("code") != response.status_code:
            return f"{response.status_code} whose body is not its Status: {response.text[:300]}"
    return None


def _shown(sent: Sent) -> str:
    """The request as sent, its body cut short."""
    query = "&".join(f"{k}={v!r}" for k, v in (sent.get("params") or {}).items())
    body = json.dumps(sent["json"]) if "json" in sent else repr(sent.get("data", ""))
    ctype = sent.get("headers", {}).get("Content-Type", "")
    text = f"{sent['method']} {sent['url']}{'?' + query if query else ''} [{ctype}] {body}"
    return text if len(text) < 800 else text[:600] + " ... " + text[-200:]


def _fuzz(operation: Any, target: Target) -> list[str]:
    """Run the operation's examples; the problems found, each with the request that showed it."""
    problems: list[str] = []
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    heavy = operation.method.upper() in ("POST", "PUT") and _plural(operation.path) in WITH_TEMPLATES

    @settings(
        max_examples=2 * (TEMPLATE_EXAMPLES if heavy else EXAMPLES),
        derandomize=True,  # the same requests on every run: CI stays stable
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: every problem is reported as sent
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, aim=st.sampled_from(AIMS), pick=st.integers(0, 5), data=st.data())
    def run(case: Case[Any], aim: str, pick: int, data: st.DataObject) -> None:
        _aim(case, aim, pick, target)
        sent: Sent = case.as_transport_kwargs(base_url=target.base_url)
        for _ in range(MUTATIONS if aim == "mutated" else 1):  # requests are cheap next to generating the case
            variant = copy.deepcopy(sent)
            if aim == "mutated":
                _mutate(variant, operation, data, target)
            _bounded(variant)
            problems.extend(_send(variant, target))

    run()
    return problems


def _send(sent: Sent, target: Target) -> list[str]:
    """Send the request; what was wrong with its answer (nothing, or one problem with the request shown)."""
    kwargs = dict(sent)
    if "json" in kwargs:  # serialized here, ASCII-escaped: a lone surrogate goes as \ud800
        kwargs["data"] = json.dumps(kwargs.pop("json")).encode()
    start = time.monotonic()
    try:
        response = target.session.request(**kwargs, timeout=REQUEST_TIMEOUT, verify=target.verify)
    except requests.RequestException as exc:
        return [f"{_shown(sent)}\n  -> no answer: {exc!r}"]
    problem = _problem(response, time.monotonic() - start)
    return [] if problem is None else [f"{_shown(sent)}\n  -> {problem}"]


def _resources(client: httpx.Client) -> Iterator[tuple[str, dict[str, Any]]]:
    """(group-version prefix, APIResource) of every listable resource discovery names."""
    groups = [("", "v1")] + [
        (g["name"], v["version"]) for g in client.get("/apis").json()["groups"] for v in g["versions"]
    ]
    for group, version in groups:
        prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        for resource in client.get(prefix).json()["resources"]:
            if "/" not in resource["name"] and "list" in resource["verbs"]:
                yield prefix, resource


def _targets(client: httpx.Client, d: Daemon, base_url: str, ca: Path, session: requests.Session) -> Target:
    """The names that exist (the seeds, their pods, the nodes) and the seeds' manifests."""
    d.wait_for(lambda: client.get("/api/v1/pods").json()["items"], timeout=60, what="the seeds' first pods")
    names: dict[str, list[str]] = {plural: [name] for plural, name in SEEDED.items()}
    manifests = {}
    for prefix, resource in _resources(client):
        plural = resource["name"]
        if plural in SEEDED:
            served = client.get(f"{prefix}/namespaces/default/{plural}/{SEEDED[plural]}").json()
            manifests[plural] = patch.spec_of(served)
        elif plural in ("pods", "nodes"):
            names[plural] = [i["metadata"]["name"] for i in client.get(f"{prefix}/{plural}").json()["items"]]
    document = client.get("/openapi/v2").json()
    queries = {
        (method.upper(), path): [p["name"] for p in op.get("parameters", []) if p.get("in") == "query"]
        for path, ops in document["paths"].items()
        for method, op in ops.items()
        if method != "parameters"
    }
    return Target(base_url, str(ca), session, names, manifests, queries)


def _check_objects(client: httpx.Client) -> list[str]:
    """Every served object lists, reads back by name and (workloads) parses as a manifest again."""
    problems = []
    for prefix, resource in _resources(client):
        listed = client.get(f"{prefix}/{resource['name']}")
        if listed.status_code != 200:
            problems.append(f"GET {prefix}/{resource['name']}: {listed.status_code} {listed.text[:300]}")
            continue
        for item in listed.json()["items"]:
            meta = item["metadata"]
            where = f"{prefix}/namespaces/{meta['namespace']}" if resource["namespaced"] else prefix
            path = f"{where}/{resource['name']}/{meta['name']}"
            if "get" in resource["verbs"]:
                got = client.get(path)
                if got.status_code != 200 or got.json()["metadata"]["name"] != meta["name"]:
                    problems.append(f"GET {path}: {got.status_code} {got.text[:300]}")
            if "create" in resource["verbs"]:
                try:
                    loader.parse_object(patch.spec_of(item), source=path)
                except Exception as exc:
                    problems.append(f"{path} is stored but is not a valid {resource['kind']}: {exc}")
    return problems


def _crashes(d: Daemon) -> list[str]:
    """Errors with a traceback (an unhandled exception in a request or a task) the daemon logged."""
    out = []
    for event in d.log_events():
        if event.get("level") == "error" and ("exception" in event or event.get("event") in CRASHES):
            trace = str(event.get("exception") or event.get("error") or "").strip().splitlines()[-3:]
            out.append(f"the daemon logged {event.get('event')}: {' / '.join(trace)}")
    return out


def test_fuzzed_requests_never_fail_the_server_hang_or_leave_a_broken_object(
    fuzzed: tuple[Daemon, str, Path],
) -> None:
    d, base_url, ca = fuzzed
    headers = {"Authorization": f"Bearer {TOKEN}"}
    tls = ssl.create_default_context(cafile=str(ca))
    with (
        httpx.Client(base_url=base_url, verify=tls, headers=headers, timeout=REQUEST_TIMEOUT) as client,
        requests.Session() as session,
    ):
        session.headers.update(headers)
        document = client.get("/openapi/v2").json()
        schema = schemathesis.openapi.from_dict(document)
        target = _targets(client, d, base_url, ca, session)
        problems: list[str] = []
        operations = 0

        for result in schema.get_all_operations():
            operation = result.ok() if isinstance(result, Ok) else pytest.fail(f"/openapi/v2: {result.err()}")
            problems += _fuzz(operation, target)
            operations += 1
        assert operations == sum(1 for ops in document["paths"].values() for verb in ops if verb != "parameters")
        assert d.proc is not None and d.proc.poll() is None, f"the daemon died:\n{d.log_text()[-3000:]}"
        health = client.get("/healthz")
        assert health.status_code == 200, health.text
        problems += _check_objects(client)
    problems += _crashes(d)
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(json.dumps(p)[1:-1] for p in problems[:30])
