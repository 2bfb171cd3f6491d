"""YAML loading: positions, error collection, folders, parse_object and the JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from miniorch.spec import errors, files, loader

from .manifests import AGENT_DAEMONSET, HELLO_CRONJOB, PI_JOB, edit, errors_of, one_error


def test_unknown_field_is_reported_at_its_key_with_line_and_column() -> None:
    """An unknown field is rejected with the line and column of its key."""
    error = one_error(
        edit(
            PI_JOB,
            "        image: perl:5.34.0\n",
            "        image: perl:5.34.0\n        imagePolicy: Always\n",
        )
    )
    assert (error.line, error.column) == (11, 9)
    assert (error.path, error.message) == (
        "spec.template.spec.containers[0].imagePolicy",
        'unknown field "imagePolicy"',
    )
    assert str(error) == 'test.yaml:11:9: spec.template.spec.containers[0].imagePolicy: unknown field "imagePolicy"'


def test_yaml_syntax_error_has_line_and_column() -> None:
    """A YAML syntax error becomes one error at the problem's position."""
    error = one_error("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: [pi\n")
    assert error.line == 5
    assert error.path == ""
    assert error.message.startswith("invalid YAML: ")


def test_bad_document_in_a_multi_document_file_fails_the_whole_file() -> None:
    """One bad document: the file loads nothing, and only that document's errors are listed."""
    bad = edit(AGENT_DAEMONSET, "      - name: monitor\n", "      - name: monitor\n        stdin: true\n")
    text = PI_JOB + "---\n" + bad + "---\n" + HELLO_CRONJOB
    found = errors_of(text)
    assert [(e.path, e.line) for e in found] == [("spec.template.spec.containers[0].stdin", 33)]


@pytest.mark.parametrize(
    ("text", "path", "fragment"),
    [
        (
            "apiVersion: apps/v1\nkind: Job\nmetadata: {name: x}\n",
            "apiVersion",
            'Unsupported value: "apps/v1" for kind Job: supported values: "batch/v1"',
        ),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n",
            "kind",
            'Unsupported value: "Deployment"',
        ),
        ("apiVersion: batch/v1\nmetadata: {name: x}\n", "kind", "Required value"),
        ("kind: Job\nmetadata: {name: x}\n", "apiVersion", "Required value"),
        ("- 1\n- 2\n", "", "must be a mapping"),
        ("a: 1\na: 2\nkind: Job\napiVersion: batch/v1\n", "a", 'duplicate key "a"'),
    ],
)
def test_document_level_errors(text: str, path: str, fragment: str) -> None:
    """Wrong kind/apiVersion pairs, non-mapping documents and duplicate keys are errors."""
    matching = [e for e in errors_of(text) if e.path == path and fragment in e.message]
    assert len(matching) == 1
    assert matching[0].line is not None


def test_kind_error_lists_the_supported_pairs() -> None:
    """An unsupported kind's hint names every supported apiVersion/kind pair."""
    error = one_error("apiVersion: apps/v1\nkind: Deployment\n")
    assert error.hint is not None
    for pair in ("batch/v1 Job", "batch/v1 CronJob", "batch/v1beta1 CronJob", "apps/v1 DaemonSet"):
        assert pair in error.hint


def test_empty_documents_are_skipped() -> None:
    """Empty documents and comment-only documents produce no objects and no errors."""
    manifests = loader.load_text("---\n# nothing\n---\n" + PI_JOB + "---\n", "f.yaml")
    assert [m.name for m in manifests] == ["pi"]
    assert manifests[0].line == 4
    assert loader.load_text("", "empty.yaml") == []


def test_errors_of_all_documents_are_collected() -> None:
    """Errors from several documents in a file are all reported, in file order."""
    text = (
        edit(PI_JOB, "backoffLimit: 4", "backoffLimit: -1")
        + "---\n"
        + edit(HELLO_CRONJOB, "metadata:\n  name: hello\n", "metadata:\n  name: Hello\n")
    )
    found = errors_of(text)
    assert [e.path for e in found] == ["spec.backoffLimit", "metadata.name"]
    assert "\n".join(str(e) for e in found) == str(errors.ManifestInvalid(found))


def test_duplicate_objects_in_a_file_name_both_locations() -> None:
    """The same kind/namespace/name twice is an error naming the first definition."""
    error = one_error(PI_JOB + "---\n" + PI_JOB)
    assert error.line == 15
    assert 'duplicate Job "default/pi"' in error.message and "test.yaml:1" in error.message


def test_same_name_in_other_kind_or_namespace_is_fine() -> None:
    """Objects are keyed by kind, namespace and name."""
    other_ns = edit(PI_JOB, "  name: pi\n", "  name: pi\n  namespace: batch\n")
    cron = edit(HELLO_CRONJOB, "metadata:\n  name: hello\n", "metadata:\n  name: pi\n")
    assert len(loader.load_text(PI_JOB + "---\n" + other_ns + "---\n" + cron, "f.yaml")) == 3


def test_server_set_metadata_is_accepted_and_dropped() -> None:
    """uid, resourceVersion and creationTimestamp of an exported object are ignored."""
    text = edit(
        PI_JOB,
        "  name: pi\n",
        "  name: pi\n  uid: 1234\n  resourceVersion: '77'\n  creationTimestamp: '2024-01-01T00:00:00Z'\n  generation: 2\n",
    )
    text = (
        edit(text, "  template:\n", "  template:\n    metadata:\n      creationTimestamp: null\n")
        + "status: {succeeded: 1}\n"
    )
    [manifest] = loader.load_text(text, "f.yaml")
    dumped = manifest.obj.model_dump(by_alias=True, exclude_none=True)
    assert "uid" not in dumped["metadata"] and "status" not in dumped


def test_load_paths_reads_folders_recursively_and_skips_hidden_files(tmp_path: Path) -> None:
    """Folders are searched for *.yaml and *.yml; hidden files and folders are skipped."""
    (tmp_path / "sub").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "pi.yaml").write_text(PI_JOB)
    (tmp_path / "sub" / "hello.yml").write_text(HELLO_CRONJOB)
    (tmp_path / ".hidden.yaml").write_text("not: [valid")
    (tmp_path / ".git" / "x.yaml").write_text("not: [valid")
    (tmp_path / "notes.txt").write_text("not: [valid")
    single = tmp_path / "ds.yaml"
    single.write_text(AGENT_DAEMONSET)
    manifests = files.load_paths([tmp_path / "sub", tmp_path / "pi.yaml", single])
    assert sorted(m.name for m in manifests) == ["disk-monitor", "hello", "pi"]
    assert sorted(m.name for m in files.load_paths([tmp_path])) == ["disk-monitor", "hello", "pi"]
    assert [m.source for m in files.load_paths([single])] == [str(single)]


def test_load_paths_aggregates_errors_and_cross_file_duplicates(tmp_path: Path) -> None:
    """Errors of all files, missing paths and duplicates across files are raised together."""
    (tmp_path / "a.yaml").write_text(PI_JOB)
    (tmp_path / "b.yaml").write_text(PI_JOB)
    (tmp_path / "c.yaml").write_text("kind: [\n")
    with pytest.raises(errors.ManifestInvalid) as caught:
        files.load_paths([tmp_path, tmp_path / "missing.yaml"])
    messages = [(Path(e.source).name, e.message) for e in caught.value.errors]
    assert ("c.yaml", caught.value.errors[0].message) in messages
    assert ("missing.yaml", "no such file or directory") in messages
    assert any(name == "b.yaml" and f"{tmp_path / 'a.yaml'}:1" in msg for name, msg in messages)


@pytest.mark.parametrize("text", [PI_JOB, HELLO_CRONJOB, AGENT_DAEMONSET])
def test_model_dump_round_trips_through_parse_object(text: str) -> None:
    """Dumping by alias gives a Kubernetes-shaped dict that parses back to the same object."""
    [manifest] = loader.load_text(text, "f.yaml")
    dumped = manifest.obj.model_dump(by_alias=True, exclude_none=True)
    assert json.loads(json.dumps(dumped)) == dumped
    assert (
        "apiVersion" in dumped
        and "restartPolicy"
        in dumped["spec"].get("template", dumped["spec"].get("jobTemplate", {}).get("spec", {}).get("template", {}))[
            "spec"
        ]
    )
    again = loader.parse_object(dumped)
    assert again.obj == manifest.obj
    assert (again.source, again.line, again.kind) == ("<api>", 0, manifest.kind)


def test_parse_object_errors_have_paths_but_no_lines() -> None:
    """parse_object reports errors by path only, e.g. after a bad merge patch."""
    [manifest] = loader.load_text(PI_JOB, "f.yaml")
    data = manifest.obj.model_dump(by_alias=True, exclude_none=True)
    data["spec"]["suspend"] = "sometimes"
    with pytest.raises(errors.ManifestInvalid) as caught:
        loader.parse_object(data)
    [error] = caught.value.errors
    assert (error.source, error.line, error.column, error.path) == ("<api>", None, None, "spec.suspend")
    assert str(error).startswith("<api>: spec.suspend: Invalid value")


def test_json_schema_describes_the_registered_kinds() -> None:
    """json_schema() is a JSON-serialisable dict with oneOf every applied kind in camelCase."""
    schema = loader.json_schema()
    text = json.dumps(schema)
    expected = ["Job", "CronJob", "DaemonSet", "StatefulSet", "Service", "ConfigMap", "Secret"]
    assert [ref["$ref"] for ref in schema["oneOf"]] == [f"#/$defs/{k}" for k in expected]
    for word in ("Job", "CronJob", "DaemonSet", "restartPolicy", "backoffLimit", "jobTemplate"):
        assert word in text
    assert "initContainers" not in text  # rejected fields are not offered to editors


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (
            errors.ManifestError("a.yaml", 3, 5, "spec", "bad", "fix it"),
            "a.yaml:3:5: spec: bad (hint: fix it)",
        ),
        (errors.ManifestError("a.yaml", 3, None, "", "bad"), "a.yaml:3: bad"),
        (errors.ManifestError("<stdin>", None, None, "kind", "bad"), "<stdin>: kind: bad"),
    ],
)
def test_error_formatting(error: errors.ManifestError, text: str) -> None:
    """Errors print as file:line:column: path: message (hint: ...)."""
    assert str(error) == text
