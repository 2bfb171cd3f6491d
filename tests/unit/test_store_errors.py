"""One error root: `except MiniorchError` catches every error miniorch raises, and each says
whether a retry can help (`temporary`)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from miniorch.errors import MiniorchError, is_temporary

PKG = Path(__file__).resolve().parents[2] / "miniorch"


def _exception_classes() -> list[tuple[str, str]]:
    """(module, class) of every exception class defined in miniorch (read from the source)."""
    found = []
    for path in sorted(PKG.rglob("*.py")):
        module = ".".join(path.relative_to(PKG.parent).with_suffix("").parts).removesuffix(".__init__")
        classes = [n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.ClassDef) and n.bases]
        if classes:
            loaded = importlib.import_module(module)
            found += [(module, c) for c in classes if issubclass_safe(getattr(loaded, c), BaseException)]
    return found


def issubclass_safe(value: object, base: type) -> bool:
    return isinstance(value, type) and issubclass(value, base)


def test_the_scan_finds_the_errors_of_every_layer() -> None:
    names = {name for _, name in _exception_classes()}
    assert {"StoreUnavailable", "NodeUntrusted", "ManifestInvalid", "ConfigError", "CtlError"} <= names


@pytest.mark.parametrize(("module", "name"), _exception_classes(), ids=lambda v: str(v))
def test_every_error_of_ours_is_a_miniorch_error(module: str, name: str) -> None:
    assert issubclass(getattr(importlib.import_module(module), name), MiniorchError)


TEMPORARY = [
    ("miniorch.store.errors", "StoreUnavailable", True),
    ("miniorch.store.lease", "LeaseUnavailable", True),
    ("miniorch.nodes.records", "NodeUnavailable", True),
    ("miniorch.nodes.records", "EngineError", True),
    ("miniorch.nodes.records", "NodeUntrusted", False),
    ("miniorch.nodes.records", "DockerRejected", False),
    ("miniorch.controllers.objects", "Busy", True),
    ("miniorch.controllers.objects", "Immutable", False),
    ("miniorch.spec.errors", "ManifestInvalid", False),
    ("miniorch.config", "ConfigError", False),
    ("miniorch.store.schema", "SchemaTooNew", False),
]


@pytest.mark.parametrize(("module", "name", "temporary"), TEMPORARY)
def test_errors_say_whether_a_retry_can_help(module: str, name: str, temporary: bool) -> None:
    assert getattr(importlib.import_module(module), name).temporary is temporary


def test_a_database_error_is_temporary_unless_permanent() -> None:
    from miniorch.store.database import DatabaseError

    assert is_temporary(DatabaseError("database x: connection refused (retrying)", permanent=False))
    assert not is_temporary(DatabaseError("database x: password authentication failed", permanent=True))
    assert not is_temporary(ValueError("not ours"))


def test_the_error_root_imports_nothing() -> None:
    tree = ast.parse((PKG / "errors.py").read_text())
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert [getattr(n, "module", None) for n in imports] == ["__future__"]
