"""`ctl create secret generic` / `create configmap`: kubectl's --from-literal, --from-file and --from-env-file."""

from __future__ import annotations

from pathlib import Path

import pytest

from miniorch.cli import configdata
from miniorch.cli.client import CtlError


def test_literals_files_and_env_files_in_kubectls_order(tmp_path: Path) -> None:
    (tmp_path / "q.sql").write_text("SELECT 1")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("A")
    (tmp_path / "e.env").write_text("# c\n\nuser=etl\n")
    values = configdata.collect(
        ["pw=x=y"], [f"query={tmp_path / 'q.sql'}", str(tmp_path / "d")], [str(tmp_path / "e.env")]
    )
    assert values == {"pw": b"x=y", "query": b"SELECT 1", "a.txt": b"A", "user": b"etl"}
    assert configdata.secret("db", "default", {"pw": b"x"})["data"] == {"pw": "eA=="}
    cm = configdata.configmap("c", "ns", {"t": b"text", "b": b"\xff\x00"})
    assert cm["data"] == {"t": "text"} and cm["binaryData"] == {"b": "/wA="}


@pytest.mark.parametrize(
    ("literals", "env_line", "message"),
    [
        (["novalue"], None, "--from-literal for key 'novalue' must be KEY=VALUE"),
        (["a=1", "a=2"], None, "cannot add key a, another key by that name already exists"),
        (["bad key=1"], None, "'bad key' (--from-literal) is not a valid key name"),
        ([], "just-a-secret-value", ":1: a line must be KEY=VALUE"),
    ],
)
def test_bad_input_is_refused_without_echoing_a_value(
    tmp_path: Path, literals: list[str], env_line: str | None, message: str
) -> None:
    env_files = []
    if env_line is not None:
        (tmp_path / "e.env").write_text(env_line + "\n")
        env_files.append(str(tmp_path / "e.env"))
    with pytest.raises(CtlError) as caught:
        configdata.collect(literals, [], env_files)
    assert message in str(caught.value) and "just-a-secret-value" not in str(caught.value)


def test_diff_masks_a_secrets_values_as_kubectl_does() -> None:
    """`***` for a value that stays, `*** (before)` / `*** (after)` for a changed one; ConfigMaps as they are."""
    live = {"kind": "Secret", "data": {"same": "YQ==", "old": "Yg==", "changed": "Yw=="}}
    merged = {"kind": "Secret", "data": {"same": "YQ==", "new": "ZA==", "changed": "ZQ=="}}
    before, after = configdata.masked(live, merged)
    assert before == {"kind": "Secret", "data": {"same": "***", "old": "*** (before)", "changed": "*** (before)"}}
    assert after == {"kind": "Secret", "data": {"same": "***", "new": "*** (after)", "changed": "*** (after)"}}
    cm = {"kind": "ConfigMap", "data": {"a": "1"}}
    assert configdata.masked(None, cm) == (None, cm)
