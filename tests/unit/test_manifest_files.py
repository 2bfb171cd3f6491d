"""One reader of manifest files: `miniorch validate`, `ctl apply -f DIR` and the watched folder agree."""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from miniorch.cli import edit, main
from miniorch.cli.client import CtlError
from miniorch.config import PolicyConfig
from miniorch.controllers import manifestsync
from miniorch.controllers.objects import Applier
from miniorch.spec import files
from miniorch.store.store import Store

from .test_folder_sync import job

NOW = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
BIG = job("big") + "#" * (1024 * 1024) + "\n"
BROKEN = job("y") + "---\nmetadata:\n  name: [a\n"  # its good Job "y" claims nothing: the file is refused

#: (file, content, what its one message says; None: the file is ignored, or valid, and named by no message)
BAD_FOLDER: list[tuple[str, str | bytes, str | None]] = [
    ("a-first.yaml", job("x"), None),
    ("b-again.yaml", job("x") + "---\n" + job("z"), 'duplicate Job "default/x": also defined at {root}/a-first.yaml:1'),
    ("notes.json", job("json"), None),
    ("a-first.yaml~", job("backup"), None),
    (".a-first.yaml.swp", job("swap"), None),
    (".hidden.yaml", "kind: [\n", None),
    (".git/config.yaml", job("git"), None),
    ("big.yaml", BIG, f"manifest is {len(BIG)} bytes; the limit is 1048576 bytes (1 MiB)"),
    ("broken.yaml", BROKEN, "invalid YAML"),
    ("c-y.yaml", job("y"), None),
    ("latin1.yml", "# caf\xe9\n".encode("latin-1") + job("l").encode(), "cannot read file: not UTF-8 text"),
    ("sub/deeper.yml", job("deep"), None),
]


def write_folder(root: Path) -> None:
    for name, content, _ in BAD_FOLDER:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def by_validate(root: Path, tmp: Path) -> list[str]:
    result = CliRunner().invoke(main.app, ["validate", str(root)])
    assert result.exit_code == 1
    return result.stderr.splitlines()


def by_apply_reader(root: Path, tmp: Path) -> list[str]:
    with pytest.raises(CtlError) as caught:  # before anything is sent to a daemon
        edit.read_sources(str(root))
    return f"error: {caught.value}".splitlines()  # as the CLI's error boundary prints it


def by_watcher(root: Path, tmp: Path) -> list[str]:
    store = Store(f"sqlite:///{tmp / 'state.db'}")
    try:
        applier = Applier(store, PolicyConfig(), lambda: None, lambda: NOW)
        report = manifestsync.FolderSync(root, applier, store, lambda: NOW).sync()
        assert report.failed == 4
        assert sorted(o.name for o in store.list_objects()) == ["deep", "x", "y"]
        messages = [e.message for e in store.list_events() if e.reason == "InvalidManifest"]
    finally:
        store.close()
    return [f"error: {line}" for message in messages for line in message.splitlines()]


@pytest.mark.parametrize("reader", [by_validate, by_apply_reader, by_watcher], ids=["validate", "apply-f", "watcher"])
def test_validate_apply_and_the_watcher_give_the_same_messages_for_a_bad_folder(
    tmp_path: Path, reader: Callable[[Path, Path], list[str]]
) -> None:
    """Duplicates, an oversized file, a YAML error and non-UTF-8 are refused with one message each, the same
    for all three; non-YAML, backup, swap and hidden files are ignored; a refused file claims no name."""
    root = tmp_path / "jobs.d"
    write_folder(root)
    lines = reader(root, tmp_path)
    expected = {name: what.format(root=root) for name, _, what in BAD_FOLDER if what}
    for name, what in expected.items():
        mine = [line for line in lines if line.startswith(f"error: {root / name}:")]
        assert len(mine) == 1 and what in mine[0], (name, lines)
    assert len(lines) == len(expected), lines
    assert sorted(lines) == sorted(by_validate(root, tmp_path))  # to the letter, hints included


@pytest.mark.parametrize(
    ("named", "names"),
    [
        (["jobs.d"], ["a.yaml", "sub/b.yml"]),
        (["jobs.d", "jobs.d/a.yaml"], ["a.yaml", "sub/b.yml"]),  # a file named twice is read once
        (["jobs.d/notes.txt"], ["notes.txt"]),  # a file named on the command line counts whatever its suffix
        (["jobs.d/sub", "jobs.d/a.yaml"], ["sub/b.yml", "a.yaml"]),
    ],
)
def test_the_apply_reader_sends_each_manifest_file_once_in_order(
    tmp_path: Path, named: list[str], names: list[str]
) -> None:
    """`ctl apply -f` sends the files the watcher would read, with their text, each once."""
    root = tmp_path / "jobs.d"
    for i, name in enumerate(["a.yaml", "sub/b.yml", "notes.txt", ".c.yaml", "a.yaml~"]):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(job(f"j{i}"))
    good, errors = files.read_paths(tmp_path / n for n in named)
    assert errors == []
    assert [f.path for f in good] == [root / n for n in names]
    if len(named) == 1:
        assert edit.read_sources(str(tmp_path / named[0])) == [(str(root / n), (root / n).read_text()) for n in names]


def test_a_missing_path_and_an_empty_folder_are_errors_of_apply_but_not_of_validate(tmp_path: Path) -> None:
    """apply -f names the missing path or says the folder has no manifests; validate says 'no such file'."""
    with pytest.raises(CtlError, match="does not exist"):
        edit.read_sources(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CtlError, match="no .yaml or .yml files"):
        edit.read_sources(str(tmp_path / "empty"))
    assert files.read_paths([tmp_path / "missing"])[1][0].message == "no such file or directory"


def test_an_empty_file_defines_nothing_for_the_cli_and_is_not_yet_written_for_the_watcher(tmp_path: Path) -> None:
    """Zero bytes: the watcher waits for the write (None); validate and apply read no objects."""
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert files.read_file(path) is None
    good, errors = files.read_paths([path])
    assert ([(f.path, f.manifests, f.text) for f in good], errors) == ([(path, (), "")], [])


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (BIG, f"manifest is {len(BIG)} bytes; the limit is 1048576 bytes (1 MiB)"),
        ("# caf\xe9\n".encode("latin-1"), "cannot read file: not UTF-8 text"),
        (BROKEN, None),  # parsed by the daemon, with the same loader and messages
    ],
    ids=["oversized", "latin-1", "yaml-error"],
)
def test_one_file_for_apply_is_read_here_and_parsed_by_the_daemon(
    tmp_path: Path, content: str | bytes, error: str | None
) -> None:
    """`ctl apply -f FILE` refuses an unreadable file before sending it, as validate would say it."""
    path = tmp_path / "one.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    if error is None:
        assert edit.read_sources(str(path)) == [(str(path), content)]
        return
    with pytest.raises(CtlError) as caught:
        edit.read_sources(str(path))
    assert str(caught.value) == f"{path}: {error}" + (
        " (hint: split it into several files)" if "bytes" in error else ""
    )


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
    return names


def test_the_folder_sync_is_controller_code_and_the_reader_is_spec_code() -> None:
    """Only controllers/ imports the folder sync (no cycle through a top-level module); spec/files.py imports
    only spec/ of ours, so `validate` needs neither the store nor the controllers."""
    package = Path(main.__file__).resolve().parents[1]
    assert not (package / "manifests.py").exists()
    for path in package.rglob("*.py"):
        if path.parent.name != "controllers":
            assert "miniorch.controllers.manifestsync" not in _imports(path), path
    ours = {n for n in _imports(package / "spec" / "files.py") if n.startswith("miniorch")}
    assert ours and all(n.startswith("miniorch.spec") for n in ours), ours
