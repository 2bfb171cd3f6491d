"""`ctl explain`, `completion` and the CLI's error sentences: the parts that need no daemon."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from miniorch.cli import completion, errors, explain
from miniorch.cli.client import CtlError
from miniorch.spec import loader

MINIORCH = str(Path(sys.executable).with_name("miniorch"))


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """The manifest JSON Schema that `miniorch schema` prints."""
    return loader.json_schema()


def test_explain_a_kind_lists_its_fields_in_kubectls_layout(schema: dict[str, Any]) -> None:
    """GROUP, KIND, VERSION, DESCRIPTION, then FIELDS sorted by name, each `name<TAB><Type>`, required marked."""
    text = explain.text(schema, "Job", [])
    lines = text.splitlines()
    assert lines[:4] == ["GROUP:      batch", "KIND:       Job", "VERSION:    v1", ""]
    assert lines[4] == "DESCRIPTION:"
    fields = [line.strip() for line in lines if line.startswith("  ") and "\t<" in line]
    assert fields == [
        "apiVersion\t<string>",
        "kind\t<string>",
        "metadata\t<ObjectMeta> -required-",
        "spec\t<JobSpec> -required-",
    ]


@pytest.mark.parametrize(
    ("kind", "path", "field_line", "must_contain"),
    [
        ("Job", ["spec", "backoffLimit"], "FIELD: backoffLimit <integer>", "Defaults to 6."),
        (
            "Job",
            ["spec", "template", "spec", "containers"],
            "FIELD: containers <[]Container>",
            "  image\t<string> -required-",
        ),
        ("CronJob", ["spec", "concurrencyPolicy"], "FIELD: concurrencyPolicy <string>", "ENUM: Allow, Forbid, Replace"),
        (
            "DaemonSet",
            ["spec", "template", "spec", "nodeSelector"],
            "FIELD: nodeSelector <map[string]string>",
            "DESCRIPTION:",
        ),
        (
            "DaemonSet",
            ["spec", "updateStrategy", "rollingUpdate", "maxUnavailable"],
            "FIELD: maxUnavailable <IntOrString>",
            "Defaults to 1.",
        ),
        ("Pod", ["spec", "restartPolicy"], "FIELD: restartPolicy <string>", "ENUM: Always, Never, OnFailure"),
    ],
)
def test_explain_a_field_shows_its_type_and_description(
    schema: dict[str, Any], kind: str, path: list[str], field_line: str, must_contain: str
) -> None:
    """KIND.FIELD.FIELD walks the schema (through lists) and names the field's type as kubectl does."""
    text = explain.text(schema, kind, path)
    assert field_line in text.splitlines()
    assert must_contain in text


def test_explain_recursive_prints_the_tree_without_descriptions(schema: dict[str, Any]) -> None:
    """--recursive indents each level by two spaces under its parent."""
    text = explain.text(schema, "Job", ["spec", "template"], recursive=True)
    assert "  spec\t<PodSpec> -required-\n    affinity\t<Affinity>\n      nodeAffinity\t<NodeAffinity>\n" in text


def test_explain_an_unknown_field_is_kubectls_error(schema: dict[str, Any]) -> None:
    """A field that is not in the schema: `field "x" does not exist`."""
    with pytest.raises(CtlError, match='^field "nope" does not exist$'):
        explain.text(schema, "Job", ["spec", "nope"])


def test_completion_scripts_name_miniorch_and_bash_is_valid(tmp_path: Path) -> None:
    """The bash script parses (bash -n), and zsh and fish scripts complete the miniorch command."""
    script = tmp_path / "c.bash"
    script.write_text(completion.script("bash"))
    subprocess.run(["bash", "-n", str(script)], check=True)
    assert "#compdef miniorch" in completion.script("zsh")
    assert completion.script("fish").startswith("complete --command miniorch ")


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["miniorch", "ctl", "ge"], {"get"}),
        (["miniorch", "ctl", "get", "jobs,cr"], {"jobs,cronjobs"}),
        (["miniorch", "comp"], {"completion"}),
    ],
)
def test_bash_completion_completes_verbs_and_resource_types(
    tmp_path: Path, words: list[str], expected: set[str]
) -> None:
    """Sourcing `miniorch completion bash` and pressing TAB after a prefix offers the matching words."""
    script = tmp_path / "c.bash"
    script.write_text(
        subprocess.run([MINIORCH, "completion", "bash"], capture_output=True, text=True, check=True).stdout
    )
    line = " ".join(words)
    probe = f'source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _miniorch_completion miniorch; printf "%s\\n" "${{COMPREPLY[@]}}"'
    env = {**os.environ, "PATH": f"{Path(MINIORCH).parent}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, env=env, check=True)
    assert set(result.stdout.split()) == expected


class Boom(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (CtlError('job.batch "x" not found'), 'job.batch "x" not found'),
        (KeyError("Pod"), "'miniorch ctl patch' stopped on an internal error, a bug in miniorch; run the command"),
        (Boom("raw text"), "'miniorch ctl patch' stopped on an internal error"),
        (PermissionError(13, "Permission denied", "/etc/x.yaml"), "cannot use /etc/x.yaml: permission denied"),
    ],
)
def test_errors_reach_the_user_as_sentences_never_as_bare_exception_text(exc: Exception, expected: str) -> None:
    """Our errors print their message; anything else says what failed and what to do, not str(exc)."""
    text = errors.sentence(exc, ["miniorch", "ctl", "patch", "pod", "x"])
    assert text.startswith(expected)
    if not isinstance(exc, CtlError):
        assert "'Pod'" not in text and "raw text" not in text and type(exc).__name__ not in text
