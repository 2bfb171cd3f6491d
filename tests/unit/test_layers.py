"""The architecture's layers hold: one door to Docker, one user of SQL, a self-contained pure layer."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "miniorch"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module == "miniorch":
            out |= {f"miniorch.{a.name}" for a in node.names}  # `from miniorch import kinds`
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def _modules(sub: str = "") -> list[Path]:
    return sorted((PKG / sub).rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_only_the_nodes_package_imports_docker(path: Path) -> None:
    """docker-py is used in miniorch.nodes only."""
    if path.relative_to(PKG).parts[0] == "nodes":
        return
    assert not {m for m in _imports(path) if m == "docker" or m.startswith("docker.")}


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_only_the_store_package_imports_sql(path: Path) -> None:
    """sqlmodel and sqlalchemy are used in miniorch.store only."""
    if path.relative_to(PKG).parts[0] == "store":
        return
    assert not {m for m in _imports(path) if m.split(".")[0] in ("sqlmodel", "sqlalchemy")}


@pytest.mark.parametrize("path", _modules("reconcile"), ids=lambda p: p.name)
def test_planning_code_does_no_io(path: Path) -> None:
    """reconcile/ imports no I/O: no asyncio, threads, sockets, HTTP, the store or the node client."""
    banned = {
        "asyncio",
        "threading",
        "socket",
        "subprocess",
        "httpx",
        "requests",
        "time",
        "miniorch.store.store",
        "miniorch.nodes.client",
        "miniorch.controllers",
    }
    found = {m for m in _imports(path) if m in banned or any(m.startswith(b + ".") for b in banned)}
    assert not found


def _module(path: Path) -> str:
    """The dotted name of a miniorch module file."""
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _outside(imports: set[str], allowed: tuple[str, ...]) -> set[str]:
    """The miniorch modules among `imports` that are not under one of the `allowed` packages."""
    return {
        m
        for m in imports
        if (m == "miniorch" or m.startswith("miniorch.")) and not any(m == a or m.startswith(a + ".") for a in allowed)
    }


@pytest.mark.parametrize("path", _modules("reconcile"), ids=lambda p: p.name)
def test_planning_code_imports_only_spec_its_own_modules_and_the_stdlib(path: Path) -> None:
    """reconcile/ is self-contained: the stdlib, `miniorch.spec` and `miniorch.reconcile`, nothing else
    (but the import-free error root, `miniorch.errors`)."""
    found = _imports(path)
    foreign = _outside(found, ("miniorch.spec", "miniorch.reconcile", "miniorch.errors"))
    third_party = {m for m in found if m.split(".")[0] not in sys.stdlib_module_names and m.split(".")[0] != "miniorch"}
    assert not foreign | third_party, (
        f"{_module(path)} imports {sorted(foreign | third_party)}: reconcile/ may import only the stdlib,"
        " miniorch.spec, miniorch.reconcile and miniorch.errors (give the planner a view of what it needs instead)"
    )


@pytest.mark.parametrize("path", _modules("spec"), ids=lambda p: p.name)
def test_manifest_models_import_nothing_of_miniorch_outside_spec(path: Path) -> None:
    """spec/ is the bottom layer: it imports no other miniorch package (not even reconcile/) but the
    import-free error root and the kind registry (stdlib only; the loader reads its models from it)."""
    foreign = _outside(_imports(path), ("miniorch.spec", "miniorch.errors", "miniorch.kinds"))
    assert not foreign, (
        f"{_module(path)} imports {sorted(foreign)}: spec/ may import only miniorch.spec, miniorch.errors"
        " and miniorch.kinds"
    )


#: Calls that read the clock, by the module they come from; planners get `now` as an argument instead.
_CLOCK_READS = {
    "datetime": frozenset({"now", "utcnow", "today"}),
    "time": frozenset({"time", "time_ns", "monotonic", "monotonic_ns", "perf_counter"}),
}


def _clock_names(tree: ast.AST) -> dict[str, str]:
    """Local names bound to the datetime/time modules or their members -> the module."""
    names = {"datetime": "datetime", "time": "time"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.asname or a.name: a.name for a in node.names if a.name in _CLOCK_READS}
        elif isinstance(node, ast.ImportFrom) and node.module in _CLOCK_READS:
            names |= {a.asname or a.name: node.module for a in node.names}
    return names


def _clock_reads(path: Path) -> list[str]:
    """`<line>: <call>` for every clock read in a module: datetime.now()/today(), time.time()/monotonic()..."""
    tree = ast.parse(path.read_text())
    names = _clock_names(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute):
            root = func.value
            while isinstance(root, ast.Attribute):
                root = root.value
            module = names.get(root.id) if isinstance(root, ast.Name) else None
            if module is not None and func.attr in _CLOCK_READS[module]:
                found.append(f"{node.lineno}: {ast.unparse(func)}()")
        elif isinstance(func, ast.Name) and func.id in names and func.id in _CLOCK_READS[names[func.id]]:
            found.append(f"{node.lineno}: {func.id}()")  # `from time import monotonic; monotonic()`
    return found


@pytest.mark.parametrize("path", _modules("reconcile"), ids=lambda p: p.name)
def test_planning_code_never_reads_the_clock(path: Path) -> None:
    """No datetime.now / time.time / time.monotonic in reconcile/: the time is the injected `now`."""
    reads = _clock_reads(path)
    assert not reads, f"{_module(path)} reads the clock at {reads}: take `now` as an argument"


def test_the_clock_check_finds_the_reads_it_forbids(tmp_path: Path) -> None:
    """The AST check itself: each way of reading the clock is caught; a `now` argument and dt.time() are not."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import datetime as dt\nimport time\nfrom time import monotonic\nfrom datetime import datetime\n"
        "def f(now):\n"
        "    a = dt.datetime.now(dt.UTC)\n    b = time.time()\n    c = monotonic()\n"
        "    d = datetime.utcnow()\n    e = dt.date.today()\n    f = dt.time(12)\n    return now\n"
    )
    assert [r.split(":")[0] for r in _clock_reads(sample)] == ["6", "7", "8", "9", "10"]


def _literal_event_reasons(path: Path) -> list[str]:
    """`<line>: <text>` for each Event(type, "<literal reason>", ...) in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Event":
            reason = (
                node.args[1]
                if len(node.args) > 1
                else next((k.value for k in node.keywords if k.arg == "reason"), None)
            )
            if isinstance(reason, ast.Constant) and isinstance(reason.value, str):
                found.append(f"{node.lineno}: {reason.value}")
    return found


@pytest.mark.parametrize("path", _modules("reconcile"), ids=lambda p: p.name)
def test_planners_emit_event_reasons_from_the_enum(path: Path) -> None:
    """Every event a planner emits names its reason as a spec.enums.EventReason member, not a bare string."""
    literal = _literal_event_reasons(path)
    assert not literal, f"{_module(path)} emits events with string reasons {literal}: use spec.enums.EventReason"
