"""The kind registry: every registered kind is complete, and each rule reads its entry."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import pydantic
import pytest

from miniorch import kinds
from miniorch.kinds import Kind, KindInfo
from miniorch.spec import loader
from miniorch.spec.pod import PodTemplateSpec
from miniorch.store.store import Store

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
_META = {"name": "a", "namespace": "default", "creationTimestamp": "2024-05-01T11:00:00Z", "uid": "u1"}
_POD = {"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"}}

#: A status the kind's finished rule calls finished (None: the kind never finishes), and one it does not.
STATUSES: dict[Kind, tuple[dict[str, Any] | None, dict[str, Any]]] = {
    Kind.JOB: ({"conditions": [{"type": "Failed", "status": "True"}]}, {"conditions": [{"type": "Complete"}]}),
    Kind.CRONJOB: (None, {"conditions": [{"type": "Complete", "status": "True"}], "active": []}),
    Kind.DAEMONSET: (None, {"numberReady": 0}),
    Kind.STATEFULSET: (None, {"readyReplicas": 0}),
    Kind.SERVICE: (None, {}),
    Kind.POD: ({"phase": "Succeeded"}, {"phase": "Running"}),
    Kind.NODE: (None, {"conditions": [{"type": "Ready", "status": "True"}]}),
    Kind.EVENT: (None, {}),
    Kind.CONFIGMAP: (None, {}),
    Kind.SECRET: (None, {}),
}

#: A served object of each kind, as `ctl get` receives it.
SERVED: dict[Kind, dict[str, Any]] = {
    Kind.JOB: {"metadata": _META, "spec": {"template": _POD}, "status": {"succeeded": 1}},
    Kind.CRONJOB: {"metadata": _META, "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": _POD}}}},
    Kind.DAEMONSET: {"metadata": _META, "spec": {"template": _POD}, "status": {"desiredNumberScheduled": 2}},
    Kind.STATEFULSET: {"metadata": _META, "spec": {"replicas": 3, "template": _POD}, "status": {"readyReplicas": 2}},
    Kind.SERVICE: {"metadata": _META, "spec": {"clusterIP": "None", "ports": [{"port": 80}], "selector": {"app": "a"}}},
    Kind.POD: {"metadata": _META, "spec": {"nodeName": "node0"}, "status": {"phase": "Running"}},
    Kind.NODE: {"metadata": _META, "spec": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
    Kind.EVENT: {"involvedObject": {"kind": "Job", "name": "a"}, "lastTimestamp": "2024-05-01T11:59:00Z"},
    Kind.CONFIGMAP: {"metadata": _META, "data": {"a": "1", "b": "2"}},
    Kind.SECRET: {"metadata": _META, "type": "Opaque", "data": {"a": "MQ=="}},
}

#: A valid manifest of each kind applied from files.
MANIFESTS: dict[Kind, dict[str, Any]] = {
    Kind.JOB: {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "a"}, "spec": {"template": _POD}},
    Kind.CRONJOB: {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "a"},
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": _POD}}},
    },
    Kind.DAEMONSET: {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "a"},
        "spec": {
            "selector": {"matchLabels": {"app": "a"}},
            "template": {
                "metadata": {"labels": {"app": "a", "tier": "x"}},
                "spec": {"containers": [{"name": "c", "image": "b"}]},
            },
        },
    },
    Kind.CONFIGMAP: {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}},
    Kind.SECRET: {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}, "stringData": {"k": "v"}},
    Kind.STATEFULSET: {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "a"},
        "spec": {
            "selector": {"matchLabels": {"app": "a"}},
            "template": {
                "metadata": {"labels": {"app": "a"}},
                "spec": {
                    "containers": [{"name": "c", "image": "b", "volumeMounts": [{"name": "d", "mountPath": "/d"}]}]
                },
            },
            "volumeClaimTemplates": [{"metadata": {"name": "d"}}],
        },
    },
    Kind.SERVICE: {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"clusterIP": "None"}},
}

ENTRIES = [pytest.param(info, id=info.kind) for info in kinds.REGISTRY]
WORKLOADS = [pytest.param(info, id=info.kind) for info in kinds.REGISTRY if info.workload and info.controller]
DATA_KINDS = [pytest.param(info, id=info.kind) for info in kinds.REGISTRY if info.workload and not info.controller]


def test_every_kind_has_one_entry_and_an_example_here() -> None:
    """Each Kind is registered once, and this test has its examples (a new kind must add them)."""
    assert [info.kind for info in kinds.REGISTRY] == list(Kind)
    assert set(STATUSES) == set(SERVED) == set(Kind)
    assert set(MANIFESTS) == set(kinds.WORKLOADS)


@pytest.mark.parametrize("info", ENTRIES)
def test_names_resolve_back_to_the_kind(info: KindInfo) -> None:
    """Plural, singular, short names and the `kind.group` form all resolve to the kind; no alias is shared."""
    for name in (*info.aliases, info.group, info.kind.upper(), info.kind):
        assert kinds.resolve(name) is info.kind
    assert info.plural.endswith("s") and info.plural == kinds.PLURAL[info.kind]
    others = {a for other in kinds.REGISTRY if other is not info for a in other.aliases}
    assert not others & set(info.aliases)
    assert kinds.get(info.kind) is kinds.get(str(info.kind)) is info


@pytest.mark.parametrize("info", ENTRIES)
def test_columns_print_one_cell_per_header(info: KindInfo) -> None:
    """The row printer resolves and fills every column, in the plain and the wide table."""
    columns = info.columns
    assert columns.headers and not set(columns.headers) - set(columns.wide or columns.headers)
    row = kinds.load(columns.row)
    assert len(row(SERVED[info.kind], NOW, False)) == len(columns.headers)
    wide = columns.wide or columns.headers
    assert len(row(SERVED[info.kind], NOW, bool(columns.wide))) == len(wide)
    assert info.resource.endswith(f"/{info.api_version.rpartition('/')[2]}, Resource={info.plural}")
    assert "metadata.name" in info.fields
    if info.describe is not None:
        assert callable(kinds.load(info.describe))


@pytest.mark.parametrize("info", ENTRIES)
def test_finished_rule_on_a_finished_and_an_unfinished_status(info: KindInfo) -> None:
    """The finished rule says finished only for a final status; a kind that never finishes never is."""
    done, running = STATUSES[info.kind]
    assert not info.finished(running) and info.outcome(running) is None
    assert info.state({"spec": {}}, running) == "active"
    assert info.state({"spec": {"suspend": True}}, running) == "suspended"
    if done is not None:
        assert info.finished(done)
        assert info.state({"spec": {"suspend": True}}, done) == str(info.outcome(done)).lower()
    assert set(info.states) <= {"active", "suspended", "complete", "failed"}


@pytest.mark.parametrize("info", WORKLOADS)
def test_a_workload_has_a_model_a_controller_and_its_pod_template(info: KindInfo) -> None:
    """The spec model parses the kind at each of its API versions; the controller and template resolve."""
    assert info.model and info.controller and info.template
    model = kinds.load(info.model)
    assert issubclass(model, pydantic.BaseModel)
    assert isinstance(kinds.load(info.controller), type)
    for api in info.api_versions:
        parsed = loader.parse_object({**MANIFESTS[info.kind], "apiVersion": api})
        assert (parsed.kind, parsed.api_version, type(parsed.obj)) == (info.kind, api, model)
    parsed = loader.parse_object(MANIFESTS[info.kind])
    assert isinstance(kinds.pod_template(info.kind, parsed.obj), PodTemplateSpec)
    template = kinds.pod_template(info.kind, MANIFESTS[info.kind])
    assert template["spec"]["containers"][0]["name"] == "c"


@pytest.mark.parametrize("info", DATA_KINDS)
def test_a_data_kind_has_a_model_and_no_pods(info: KindInfo) -> None:
    """ConfigMap and Secret parse at their API version, own no pods and have no template."""
    assert info.model and not info.owns_pods and info.template is None
    parsed = loader.parse_object(MANIFESTS[info.kind])
    assert (parsed.kind, type(parsed.obj)) == (info.kind, kinds.load(info.model))
    assert kinds.pod_template(info.kind, parsed.obj) is None


@pytest.mark.parametrize(
    ("kind", "summary"),
    [
        (Kind.JOB, "Running"),
        (Kind.POD, "Running"),
        (Kind.NODE, "Ready"),
    ],
)
def test_status_summary_of_a_served_object(kind: Kind, summary: str) -> None:
    """The STATUS word comes from the kind's summary rule."""
    rule = kinds.get(kind).summary
    assert rule is not None and rule(SERVED[kind]) == summary


def test_the_loader_accepts_exactly_the_registered_versions() -> None:
    """The loader's table is the registry's: every (apiVersion, kind) of a workload, nothing else."""
    expected = {(api, info.kind) for info in kinds.REGISTRY if info.workload for api in info.api_versions}
    assert set(loader.SUPPORTED) == expected


def test_the_registry_is_light() -> None:
    """`ctl` reads the registry and its printers without loading pydantic or the spec models."""
    code = (
        "import sys; from miniorch import kinds; from miniorch.cli import columns, output; "
        "[kinds.load(i.columns.row) for i in kinds.REGISTRY]; "
        "heavy = [m for m in sys.modules if m.startswith(('pydantic', 'miniorch.spec'))]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


#: The headers kubectl prints for each kind, plain and -o wide (miniorch's Node adds URL, TRANSPORT, RTT, LAST ERROR).
KUBECTL_HEADERS: dict[Kind, tuple[str, str]] = {
    Kind.JOB: (
        "NAME STATUS COMPLETIONS DURATION AGE",
        "NAME STATUS COMPLETIONS DURATION AGE CONTAINERS IMAGES SELECTOR",
    ),
    Kind.CRONJOB: (
        "NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST_SCHEDULE AGE NEXT",
        "NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST_SCHEDULE AGE NEXT CONTAINERS IMAGES",
    ),
    Kind.DAEMONSET: (
        "NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE_SELECTOR AGE",
        "NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE_SELECTOR AGE CONTAINERS IMAGES SELECTOR",
    ),
    Kind.STATEFULSET: ("NAME READY AGE", "NAME READY AGE CONTAINERS IMAGES"),
    Kind.SERVICE: (
        "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE",
        "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE SELECTOR",
    ),
    Kind.POD: ("NAME READY STATUS RESTARTS AGE", "NAME READY STATUS RESTARTS AGE NODE EXIT_CODE"),
    Kind.NODE: (
        "NAME STATUS VERSION CPU MEMORY AGE LABELS",
        "NAME STATUS VERSION CPU MEMORY AGE URL TRANSPORT RTT LABELS LAST_ERROR",
    ),
    Kind.EVENT: ("LAST_SEEN TYPE REASON OBJECT MESSAGE", "LAST_SEEN TYPE REASON OBJECT MESSAGE"),
    Kind.CONFIGMAP: ("NAME DATA AGE", "NAME DATA AGE"),
    Kind.SECRET: ("NAME TYPE DATA AGE", "NAME TYPE DATA AGE"),
}


@pytest.mark.parametrize("kind", list(Kind))
def test_get_prints_kubectls_headers(kind: Kind) -> None:
    """`ctl get` and `-o wide` print kubectl's headers, in kubectl's order, from the registry."""
    from miniorch.cli import output

    for fmt, expected in zip((None, "wide"), KUBECTL_HEADERS[kind], strict=True):
        first = output.render(kind, [SERVED[kind]], fmt, NOW).splitlines()[0]
        assert [h.strip().replace(" ", "_") for h in first.split("   ") if h.strip()] == expected.split()


def test_deleting_a_kind_without_controller_removes_it_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A data-only kind (no controller to cascade) is gone after delete; a workload is marked for its controller."""
    from miniorch.config import PolicyConfig
    from miniorch.controllers.objects import Applier

    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    applier = Applier(store, PolicyConfig(), lambda: None, lambda: NOW)
    for name in ("kept", "gone"):
        applier.apply([loader.parse_object({**MANIFESTS[Kind.JOB], "metadata": {"name": name}})], "api")
    applier.delete("Job", "default", "kept")
    data_only = dataclasses.replace(kinds.get(Kind.JOB), controller=None)
    monkeypatch.setitem(kinds._BY_KIND, Kind.JOB, data_only)
    applier.delete("Job", "default", "gone")
    kept = store.get_object("Job", "default", "kept")
    assert kept is not None and kept.deleting
    assert store.get_object("Job", "default", "gone") is None


def _changed(kind: Kind, path: tuple[str, ...], value: Any) -> dict[str, Any]:
    manifest = copy.deepcopy(MANIFESTS[kind])
    target = manifest
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return manifest


_OTHER_TEMPLATE = {"spec": {"containers": [{"name": "c", "image": "other"}], "restartPolicy": "Never"}}


@pytest.mark.parametrize(
    ("kind", "path", "value", "refused"),
    [
        (
            Kind.JOB,
            ("spec", "template"),
            _OTHER_TEMPLATE,
            'job.batch "a" is invalid: spec.template: field is immutable; delete it first '
            "(miniorch ctl delete job a -n default) or apply it under a new name",
        ),
        (Kind.JOB, ("spec", "activeDeadlineSeconds"), 60, None),
        (
            Kind.DAEMONSET,
            ("spec", "selector"),
            {"matchLabels": {"app": "a", "tier": "x"}},
            'daemonset.apps "a" is invalid: spec.selector: field is immutable',
        ),
        (Kind.DAEMONSET, ("spec", "template", "spec", "containers"), [{"name": "c", "image": "new"}], None),
        (Kind.CRONJOB, ("spec", "schedule"), "0 * * * *", None),
        (
            Kind.STATEFULSET,
            ("spec", "volumeClaimTemplates"),
            [{"metadata": {"name": "d"}, "spec": {"storageClassName": "x"}}],
            'statefulset.apps "a" is invalid: spec.volumeClaimTemplates: field is immutable',
        ),
        (Kind.STATEFULSET, ("spec", "replicas"), 5, None),
        (Kind.CRONJOB, ("spec", "jobTemplate"), {"spec": {"template": _OTHER_TEMPLATE}}, None),
    ],
)
def test_spec_fields_fixed_at_creation_follow_the_registry(
    tmp_path: Path, kind: Kind, path: tuple[str, ...], value: Any, refused: str | None
) -> None:
    """A Job's spec is fixed but for a few fields, a DaemonSet's selector is, a CronJob's spec is free."""
    from miniorch.config import PolicyConfig
    from miniorch.controllers.objects import Applier, Immutable

    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    applier = Applier(store, PolicyConfig(), lambda: None, lambda: NOW)
    applier.apply([loader.parse_object(MANIFESTS[kind])], "api")
    change = [loader.parse_object(_changed(kind, path, value))]
    if refused is None:
        assert [a.action for a in applier.apply(change, "api")] == ["configured"]
    else:
        with pytest.raises(Immutable) as caught:
            applier.apply(change, "api")
        assert str(caught.value) == refused
