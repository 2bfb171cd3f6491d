"""Errors and warnings produced while loading manifests.

Every problem found in a manifest becomes one `ManifestError` carrying the
file, the 1-based line and column and the field path, so the CLI, the API and
the folder watcher can print it the same way (``file:line:col: path: message``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from miniorch.errors import MiniorchError

if TYPE_CHECKING:
    from miniorch.spec.loader import Manifest

#: A file or `ctl apply` text larger than this is refused before parsing (as Kubernetes' 1.5 MB request limit).
MAX_MANIFEST_BYTES = 1024 * 1024


def _location(source: str, line: int | None, column: int | None, path: str) -> str:
    where = source
    if line is not None:
        where += f":{line}"
        if column is not None:
            where += f":{column}"
    return f"{where}: {path}: " if path else f"{where}: "


@dataclass(frozen=True)
class ManifestError:
    """One problem in a manifest, with where it was found."""

    source: str
    line: int | None
    column: int | None
    path: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        text = _location(self.source, self.line, self.column, self.path) + self.message
        return f"{text} (hint: {self.hint})" if self.hint else text


@dataclass(frozen=True)
class ManifestWarning:
    """A field that was accepted but has no effect (e.g. serviceAccountName)."""

    source: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        return _location(self.source, self.line, self.column, self.path) + self.message


class ManifestInvalid(MiniorchError):
    """Raised with every error found in the loaded files, not just the first."""

    def __init__(self, errors: Iterable[ManifestError]) -> None:
        self.errors: list[ManifestError] = list(errors)
        super().__init__("\n".join(str(error) for error in self.errors))

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)


def too_big(source: str, size: int) -> ManifestError:
    """A text or file of `size` bytes, over the limit."""
    message = f"manifest is {size} bytes; the limit is {MAX_MANIFEST_BYTES} bytes (1 MiB)"
    return ManifestError(source, None, None, "", message, "split it into several files")


def duplicate_error(m: Manifest, where: str, line: int) -> ManifestError:
    """`m` defines an object that `where` (a file or text, at `line` if known) defines already."""
    at = f"{where}:{line}" if line else where
    return ManifestError(
        m.source,
        m.line or None,
        None,
        "metadata.name",
        f'duplicate {m.kind} "{m.namespace}/{m.name}": also defined at {at}',
        "each object may be defined once; rename or remove one",
    )


def format_path(path: tuple[str | int, ...]) -> str:
    """("spec", "containers", 0, "image") -> "spec.containers[0].image"."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.replace("_", "").replace("-", "").isalnum():
            text += f".{part}" if text else part
        else:
            text += f'["{part}"]'  # label keys such as app.kubernetes.io/name
    return text
