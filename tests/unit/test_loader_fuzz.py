"""Fuzzing the manifest loader: malformed input never crashes it and every error names its file."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from miniorch.spec import files, loader
from miniorch.spec.errors import ManifestInvalid

from .spec.manifests import AGENT_DAEMONSET, HELLO_CRONJOB, PI_JOB

SOURCE = "jobs.d/fuzz.yaml"
SEEDS = [PI_JOB, HELLO_CRONJOB, AGENT_DAEMONSET]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=12), st.binary(max_size=4)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def mangled_text(draw: st.DrawFn) -> str:
    """A real manifest with characters deleted, inserted or replaced at random places."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        match draw(st.sampled_from(["delete", "insert", "replace"])):
            case "delete":
                text = text[:at] + text[at + draw(st.integers(1, 20)) :]
            case "insert":
                text = text[:at] + draw(st.text(alphabet=" \t\n:-[]{}&*!|>'\"#%@`,?abc0", max_size=8)) + text[at:]
            case _:
                text = text[:at] + draw(st.text(max_size=3)) + text[at + 1 :]
    return text


def _at(data: dict[str, object], path: list[str], value: object) -> None:
    node: object = data
    for key in path[:-1]:
        if not isinstance(node, dict) or not isinstance(node.get(key), dict):
            return
        node = node[key]
    if isinstance(node, dict):
        node[path[-1]] = value


@st.composite
def mangled_structure(draw: st.DrawFn) -> str:
    """A real manifest with a field set to a value of any type, or an unknown field added."""
    data = yaml.safe_load(draw(st.sampled_from(SEEDS)))
    paths = [
        ["apiVersion"],
        ["kind"],
        ["metadata", "name"],
        ["metadata", "namespace"],
        ["spec", "backoffLimit"],
        ["spec", "schedule"],
        ["spec", "template"],
        ["spec", "template", "spec"],
        ["spec", "template", "spec", "containers"],
        ["spec", "template", "spec", "restartPolicy"],
        ["spec", draw(st.text(min_size=1, max_size=8))],
    ]
    for _ in range(draw(st.integers(1, 3))):
        _at(data, draw(st.sampled_from(paths)), draw(values))
    return yaml.safe_dump(data) + draw(st.sampled_from(["", "---\n", "---\n- 1\n", "---\nfoo\n"]))


def _check(text: str) -> None:
    try:
        loader.load_text(text, SOURCE)
    except ManifestInvalid as exc:
        assert exc.errors, "ManifestInvalid without errors"
        for error in exc.errors:
            assert error.source == SOURCE
            assert str(error).startswith(SOURCE)
            assert error.line is None or error.line >= 1


@settings(max_examples=300, deadline=None)
@given(mangled_text())
def test_mangled_yaml_text_never_crashes_the_loader_and_errors_name_the_file(text: str) -> None:
    """Random edits of real manifests load or fail with errors that name the file, never another exception."""
    _check(text)


@settings(max_examples=300, deadline=None)
@given(mangled_structure())
def test_wrongly_typed_fields_never_crash_the_loader_and_errors_name_the_file(text: str) -> None:
    """Fields of the wrong type or unknown fields fail with errors naming the file, never another exception."""
    _check(text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200))
def test_arbitrary_bytes_in_a_watched_file_become_errors_naming_the_file(tmp_path: Path, data: bytes) -> None:
    """What the folder watcher reads from any file is objects or errors that name that file."""
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(data)
    loaded = files.read_file(path)
    if loaded is None:
        assert not data
        return
    assert all(e.source == str(path) and str(e).startswith(str(path)) for e in loaded.errors)
