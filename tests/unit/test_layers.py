"""The architecture's layers hold: one door to Docker, one user of SQL, pure planning."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "miniorch"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
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
