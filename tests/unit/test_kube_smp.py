"""Strategic merge patch as the API server applies it: cases ported from apimachinery's
strategicpatch/patch_test.go (on its MergeItem test type), then miniorch's kinds as kubectl apply patches them."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from miniorch.api.kube import patchmeta, smp
from miniorch.api.kube.patchmeta import Field

_ITEM = {
    "mergingList": Field("MergeItem", "merge", "name"),
    "nonMergingList": Field("MergeItem"),
    "mergingIntList": Field(None, "merge"),
    "nonMergingIntList": Field(),
    "mergeItemPtr": Field("MergeItem", "merge", "name"),
    "replacingItem": Field(None, "replace"),
    "retainKeysMap": Field("RetainKeysMergeItem", retain_keys=True),
    "retainKeysMergingList": Field("MergeItem", "merge", "name", retain_keys=True),
}
_RETAIN = {"mergingIntList": Field(None, "merge"), "mergingList": Field("MergeItem", "merge", "name")}


@pytest.fixture(autouse=True)
def merge_item(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(patchmeta.STRUCTS, "MergeItem", _ITEM)
    monkeypatch.setitem(patchmeta.STRUCTS, "RetainKeysMergeItem", _RETAIN)


# (description, original, patch, result): apimachinery's twoWay patches applied to `original`,
# and its threeWay patches applied to `current`.
APIMACHINERY = """
- [unique scalars when merging lists, {mergingIntList: [1, 2]}, {mergingIntList: [2, 3]}, {mergingIntList: [1, 2, 3]}]
- [delete map from nested map, {simpleMap: {key1: 1, key2: 1}}, {simpleMap: {$patch: delete}}, {simpleMap: {}}]
- [delete all items from merging list, {mergingList: [{name: 1}, {name: 2}]}, {mergingList: [{$patch: replace}]}, {mergingList: []}]
- [merge empty merging lists, {mergingList: []}, {mergingList: []}, {mergingList: []}]
- [delete all keys from map, {name: 1, value: 1}, {$patch: replace}, {}]
- [add key and delete all keys from map, {name: 1, value: 1}, {other: a, $patch: replace}, {other: a}]
- [retainKeys map can add a field when no retainKeys directive present, {retainKeysMap: {name: foo}}, {retainKeysMap: {value: bar}}, {retainKeysMap: {name: foo, value: bar}}]
- [retainKeys map can delete a field when no retainKeys directive present, {retainKeysMap: {name: foo, value: a}}, {retainKeysMap: {value: null}}, {retainKeysMap: {name: foo}}]
- [retainKeys map merge an empty map, {retainKeysMap: {name: foo, value: a}}, {retainKeysMap: {}}, {retainKeysMap: {name: foo, value: a}}]
- [retainKeys list can change a field, {retainKeysMergingList: [{name: bar}, {name: foo, value: a}]}, {retainKeysMergingList: [{name: foo, value: b}]}, {retainKeysMergingList: [{name: bar}, {name: foo, value: b}]}]
- [preserve the order from the patch in a merging list, {mergingList: [{name: 1}, {name: 2, value: b}, {name: 3}]}, {mergingList: [{name: 3, value: c}, {name: 1, value: a}, {name: 2, other: x}]}, {mergingList: [{name: 3, value: c}, {name: 1, value: a}, {name: 2, value: b, other: x}]}]
- [preserve the order from the patch in a merging list 2, {mergingList: [{name: 1}, {name: 2, value: b}, {name: 3}]}, {mergingList: [{name: 3, value: c}, {name: 1, value: a}]}, {mergingList: [{name: 2, value: b}, {name: 3, value: c}, {name: 1, value: a}]}]
- [preserve the order from the patch in a merging int list, {mergingIntList: [1, 2, 3]}, {mergingIntList: [3, 1, 2]}, {mergingIntList: [3, 1, 2]}]
- [preserve the order from the patch in a merging int list 2, {mergingIntList: [1, 2, 3]}, {mergingIntList: [3, 1]}, {mergingIntList: [2, 3, 1]}]
- [setElementOrder naming an item not in the list, {mergingList: [{name: 1}, {name: 3}]}, {"$setElementOrder/mergingList": [{name: 3}, {name: 2}, {name: 1}], mergingList: [{name: 3, value: 3}, {name: 1, value: 1}]}, {mergingList: [{name: 3, value: 3}, {name: 1, value: 1}]}]
- [setElementOrder naming an int not in the list, {mergingIntList: [1, 3]}, {"$setElementOrder/mergingIntList": [3, 2, 1]}, {mergingIntList: [3, 1]}]
- [nil original, {name: 1, other: a}, {value: 1}, {name: 1, value: 1, other: a}]
- [add field to map with conflict, {name: a, other: a}, {name: 1, value: 1}, {name: 1, value: 1, other: a}]
- [add field and delete field from map, {name: 1, other: a}, {name: null, value: 1}, {value: 1, other: a}]
- [delete field from nested map, {simpleMap: {key1: 1, key2: 1, other: a}}, {simpleMap: {key2: null}}, {simpleMap: {key1: 1, other: a}}]
- [delete all fields from map, {name: 1, value: 1, other: a}, {name: null, value: null}, {other: a}]
- [replace list of scalars, {nonMergingIntList: [1, 4]}, {nonMergingIntList: [2, 3]}, {nonMergingIntList: [2, 3]}]
- [delete all maps from merging list, {mergingList: [{name: 1, other: a}, {name: 2, other: b}]}, {mergingList: [{name: 1, $patch: delete}, {name: 2, $patch: delete}]}, {mergingList: []}]
- [delete all maps from empty merging list, {mergingList: []}, {mergingList: [{name: 1, $patch: delete}, {name: 2, $patch: delete}]}, {mergingList: []}]
- [defined null values should propagate overwrite current fields, {name: a, other: a}, {name: 1, value: 1, other: null}, {name: 1, value: 1}]
- [delete items in lists of scalars, {mergingIntList: [1, 2, 3, 4]}, {"$setElementOrder/mergingIntList": [1, 2], "$deleteFromPrimitiveList/mergingIntList": [3]}, {mergingIntList: [1, 2, 4]}]
- [delete all duplicate items in lists of scalars, {mergingIntList: [1, 2, 3, 3, 4]}, {"$setElementOrder/mergingIntList": [1, 2], "$deleteFromPrimitiveList/mergingIntList": [3]}, {mergingIntList: [1, 2, 4]}]
- [add and delete items in lists of scalars, {mergingIntList: [1, 2, 3]}, {"$setElementOrder/mergingIntList": [1, 2, 4], "$deleteFromPrimitiveList/mergingIntList": [3], mergingIntList: [4]}, {mergingIntList: [1, 2, 4]}]
- [merge lists of maps, {mergingList: [{name: 1, other: a}, {name: 2, value: 2, other: b}]}, {"$setElementOrder/mergingList": [{name: 4}, {name: 1}, {name: 2}, {name: 3}], mergingList: [{name: 4, value: 4}, {name: 3, value: 3}]}, {mergingList: [{name: 4, value: 4}, {name: 1, other: a}, {name: 2, value: 2, other: b}, {name: 3, value: 3}]}]
- [merge lists of maps with conflict, {mergingList: [{name: 1, other: a}, {name: 2, value: 3, other: b}]}, {"$setElementOrder/mergingList": [{name: 1}, {name: 2}, {name: 3}], mergingList: [{name: 2, value: 2}, {name: 3, value: 3}]}, {mergingList: [{name: 1, other: a}, {name: 2, value: 2, other: b}, {name: 3, value: 3}]}]
- [add field to map in merging list, {mergingList: [{name: 1, other: a}, {name: 2, value: 2, other: b}]}, {"$setElementOrder/mergingList": [{name: 1}, {name: 2}], mergingList: [{name: 1, value: 1}]}, {mergingList: [{name: 1, value: 1, other: a}, {name: 2, value: 2, other: b}]}]
- [replace a replacing item, {replacingItem: {a: 1, b: 2}}, {replacingItem: {c: 3}}, {replacingItem: {c: 3}}]
- [retainKeys directive clears the other keys, {retainKeysMap: {name: foo, value: a, other: b}}, {retainKeysMap: {$retainKeys: [name, value], value: c}}, {retainKeysMap: {name: foo, value: c}}]
- [nested merging list inside a merging list, {mergingList: [{name: 1, mergingList: [{name: a, value: x}]}]}, {mergingList: [{name: 1, mergingList: [{name: b}]}]}, {mergingList: [{name: 1, mergingList: [{name: a, value: x}, {name: b}]}]}]
- [directives in an added list are applied, {}, {mergingList: [{name: 1, value: null, other: a}]}, {mergingList: [{name: 1, other: a}]}]
- [setElementOrder on a replaced list of objects keeps the patch's list, {nonMergingList: [{name: 1}]}, {"$setElementOrder/nonMergingList": [{name: 2}], nonMergingList: [{name: 2}]}, {nonMergingList: [{name: 2}]}]
- [explicit merge directive on a map is the default, {simpleMap: {a: 1}}, {simpleMap: {$patch: merge, b: 2}}, {simpleMap: {a: 1, b: 2}}]
"""

ERRORS = """
- [missing merge key, {mergingList: [{name: 1, value: a}]}, {mergingList: [{value: b}]}, "mergingList: an item of the patch has no merge key 'name'"]
- [order of patch and setElementOrder differ, {mergingList: [{name: 1}, {name: 3}, {name: 2}]}, {"$setElementOrder/mergingList": [{name: 1}, {name: 2}, {name: 3}], mergingList: [{name: 3, value: 3}, {name: 1, value: 1}]}, "mergingList: the order of the patch's list does not match"]
- [order of int patch and setElementOrder differ, {mergingIntList: [1, 3, 2]}, {"$setElementOrder/mergingIntList": [1, 2, 3], mergingIntList: [3, 1]}, "does not match its $setElementOrder/ list"]
- [unknown map directive, {simpleMap: {a: 1}}, {simpleMap: {$patch: explode}}, "simpleMap: unknown patch directive $patch: 'explode'"]
- [unknown list directive, {mergingList: [{name: 1}]}, {mergingList: [{name: 1, $patch: explode}]}, "mergingList: unknown patch directive"]
- [merge directive inside a list, {mergingList: [{name: 1}]}, {mergingList: [{$patch: merge}]}, "not supported inside a list"]
- [retainKeys not a list, {retainKeysMap: {name: a}}, {retainKeysMap: {$retainKeys: name}}, "retainKeysMap.$retainKeys: must be a list"]
- [patch sets a key retainKeys drops, {retainKeysMap: {name: a}}, {retainKeysMap: {$retainKeys: [name], value: b}}, "retainKeysMap.value: the patch sets a field"]
- [list of lists, {mergingIntList: [1]}, {mergingIntList: [[2]]}, "mergingIntList: lists of lists"]
- [mixed item types, {mergingIntList: [1]}, {mergingIntList: [a]}, "mergingIntList: the list's items are not all of one type"]
- [deleteFromPrimitiveList on objects, {mergingList: [{name: 1}]}, {"$deleteFromPrimitiveList/mergingList": [1]}, "applies to a list of scalars only"]
- [unknown dollar key, {name: a}, {$frobnicate: 1}, "unknown patch directive '$frobnicate'"]
"""


def _cases(text: str) -> list[Any]:
    return [pytest.param(*case[1:], id=case[0]) for case in yaml.safe_load(text)]


@pytest.mark.parametrize(("original", "patch", "result"), _cases(APIMACHINERY))
def test_apimachinery_patch_cases_give_kubernetes_result(original: Any, patch: Any, result: Any) -> None:
    """Each of apimachinery's patch cases on its MergeItem type yields the object Kubernetes' own merge does."""
    before, sent = copy.deepcopy(original), copy.deepcopy(patch)
    assert smp.strategic_merge(original, patch, "MergeItem") == result
    assert (original, patch) == (before, sent)  # pure: the arguments are left as they were


@pytest.mark.parametrize(("original", "patch", "message"), _cases(ERRORS))
def test_a_bad_patch_is_a_value_error_naming_the_path(original: Any, patch: Any, message: str) -> None:
    """A patch Kubernetes refuses raises ValueError whose text names the field."""
    with pytest.raises(ValueError) as info:
        smp.strategic_merge(original, patch, "MergeItem")
    assert message in str(info.value)


def _job(**container: Any) -> dict[str, Any]:
    base = {"name": "main", "image": "busybox:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi", "labels": {"app": "pi"}, "annotations": {"x": "y"}},
        "spec": {
            "parallelism": 1,
            "template": {
                "spec": {
                    "containers": [{**base, **container}, {"name": "side", "image": "busybox:2"}],
                    "tolerations": [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                }
            },
        },
    }


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = obj["spec"]["template"]["spec"]
    return spec


KUBECTL = """
- - image and env value edited (kubectl apply's three-way patch)
  - {"$setElementOrder/containers": [{name: main}, {name: side}], containers: [{name: main, image: "busybox:9", "$setElementOrder/env": [{name: A}, {name: B}], env: [{name: B, value: "3"}]}]}
  - {containers: [{name: main, image: "busybox:9", env: [{name: A, value: "1"}, {name: B, value: "3"}]}, {name: side, image: "busybox:2"}]}
- - env var removed and a container added first
  - {"$setElementOrder/containers": [{name: init}, {name: main}, {name: side}], containers: [{name: init, image: x}, {name: main, "$setElementOrder/env": [{name: B}], env: [{name: A, $patch: delete}]}]}
  - {containers: [{name: init, image: x}, {name: main, image: "busybox:1", env: [{name: B, value: "2"}]}, {name: side, image: "busybox:2"}]}
- - tolerations are replaced whole (no merge key in Kubernetes)
  - {tolerations: [{key: c, operator: Exists}]}
  - {tolerations: [{key: c, operator: Exists}]}
- - a volume's source swapped with $retainKeys
  - {"$setElementOrder/volumes": [{name: data}], volumes: [{name: data, $retainKeys: [hostPath, name], emptyDir: null, hostPath: {path: /srv}}]}
  - {volumes: [{name: data, hostPath: {path: /srv}}]}
- - a container deleted by $patch delete
  - {containers: [{name: side, $patch: delete}]}
  - {containers: [{name: main, image: "busybox:1", env: [{name: A, value: "1"}, {name: B, value: "2"}]}]}
"""


@pytest.mark.parametrize(("patch", "expected"), _cases(KUBECTL))
def test_kubectl_apply_patches_merge_a_jobs_pod_template_by_kubernetes_keys(patch: Any, expected: Any) -> None:
    """Containers merge by name, env by name, volumes with $retainKeys, tolerations are replaced."""
    result = smp.strategic_merge(_job(), {"spec": {"template": {"spec": patch}}}, "Job")
    spec = _pod_spec(result)
    for key, value in expected.items():
        assert spec[key] == value, key
    assert result["metadata"] == _job()["metadata"]  # untouched fields stay


def test_every_registered_kind_with_a_pod_template_merges_its_containers_by_name() -> None:
    """CronJob's jobTemplate and DaemonSet's template reach the pod spec through the registry's path."""
    from miniorch import kinds

    for info in kinds.REGISTRY:
        if not info.template:
            continue
        path = info.template.split(".")

        def nest(value: Any, path: list[str] = path) -> Any:
            for part in reversed(path):
                value = {part: value}
            return value

        original = nest({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}})
        merged = smp.strategic_merge(original, nest({"spec": {"containers": [{"name": "b", "image": "3"}]}}), info.kind)
        value = merged
        for part in path:
            value = value[part]
        assert value["spec"]["containers"] == [{"name": "a", "image": "1"}, {"name": "b", "image": "3"}], info.kind


def test_labels_annotation_and_nulls_merge_in_metadata_and_the_status_conditions_by_type() -> None:
    """metadata maps merge key by key (null deletes); status conditions merge by `type`."""
    original = {
        "metadata": {"labels": {"a": "1", "b": "2"}},
        "status": {"conditions": [{"type": "Ready", "status": "False"}]},
    }
    patch = {
        "metadata": {"labels": {"a": None, "c": "3"}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Complete", "status": "True"}]},
    }
    merged = smp.strategic_merge(original, patch, "Job")
    assert merged["metadata"]["labels"] == {"b": "2", "c": "3"}
    assert merged["status"]["conditions"] == [
        {"type": "Ready", "status": "True"},
        {"type": "Complete", "status": "True"},
    ]


def test_the_error_path_names_the_container_of_a_bad_env_patch() -> None:
    """The path in the message leads to the item: spec.template.spec.containers[name=main].env."""
    with pytest.raises(ValueError, match=r"spec\.template\.spec\.containers\[name=main\]\.env: an item"):
        smp.strategic_merge(
            _job(), {"spec": {"template": {"spec": {"containers": [{"name": "main", "env": [{"value": "x"}]}]}}}}, "Job"
        )
    with pytest.raises(ValueError, match="not a JSON object"):
        smp.strategic_merge(_job(), [], "Job")  # type: ignore[arg-type]
