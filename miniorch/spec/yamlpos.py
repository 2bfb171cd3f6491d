"""YAML documents with the line and column of every key and value.

`parse_documents` composes each document with PyYAML's SafeLoader, records
the start mark of every node by field path, then constructs plain Python data.
It reports syntax errors, duplicate keys and non-mapping documents.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import yaml

from miniorch.spec.errors import ManifestError, format_path

Path: TypeAlias = tuple[str | int, ...]
Position: TypeAlias = tuple[int, int]  # 1-based line and column

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Document:
    """One non-empty YAML document: its data and where each part of it starts."""

    data: Any
    line: int
    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)

    def position(self, path: Path, at_key: bool = False) -> Position | None:
        """Position of `path`, else of its nearest parent that exists (its key if it has one)."""
        if at_key and path in self.keys:
            return self.keys[path]
        if path in self.values:
            return self.values[path]
        for end in range(len(path) - 1, -1, -1):
            prefix = path[:end]
            found = self.keys.get(prefix) or self.values.get(prefix)
            if found:
                return found
        return None


def _mark(node: yaml.Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _walk(node: yaml.Node, path: Path, stack: frozenset[int]) -> Iterator[tuple[Path, yaml.Node, yaml.Node | None]]:
    """Yield (path, value node, key node) for every node; alias cycles are cut."""
    if id(node) in stack:
        return
    stack = stack | {id(node)}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                child = (*path, key_node.value)
                yield child, value_node, key_node
                yield from _walk(value_node, child, stack)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield (*path, index), item, None
            yield from _walk(item, (*path, index), stack)


def _duplicate_keys(node: yaml.Node, source: str) -> list[ManifestError]:
    errors = []
    nodes = [((), node, None), *_walk(node, (), frozenset())]
    for path, value_node, _ in nodes:
        if not isinstance(value_node, yaml.MappingNode):
            continue
        seen: set[str] = set()
        for key_node, _value in value_node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            if key_node.value in seen:
                line, column = _mark(key_node)
                errors.append(
                    ManifestError(
                        source,
                        line,
                        column,
                        format_path((*path, key_node.value)),
                        f'duplicate key "{key_node.value}"',
                        "each key may appear once per mapping",
                    )
                )
            seen.add(key_node.value)
    return errors


def _index(node: yaml.Node, data: Any) -> Document:
    doc = Document(data=data, line=_mark(node)[0])
    doc.values[()] = _mark(node)
    for path, value_node, key_node in _walk(node, (), frozenset()):
        doc.values[path] = _mark(value_node)
        if key_node is not None:
            doc.keys[path] = _mark(key_node)
    return doc


def _syntax_error(exc: yaml.YAMLError, source: str) -> ManifestError:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = exc.problem or "invalid YAML"
        message = f"invalid YAML: {exc.context}: {problem}" if exc.context else f"invalid YAML: {problem}"
        return ManifestError(source, mark.line + 1, mark.column + 1, "", message)
    return ManifestError(source, None, None, "", f"invalid YAML: {exc}")


def _reader_error(exc: yaml.reader.ReaderError, text: str, source: str) -> ManifestError:
    """A control character (e.g. NUL) in the text, with its line and column."""
    line = text.count("\n", 0, exc.position) + 1
    column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
    character = exc.character if isinstance(exc.character, int) else ord(exc.character)
    message = f"invalid YAML: unacceptable character #x{character:04x}: special characters are not allowed"
    return ManifestError(source, line, column, "", message)


def parse_documents(text: str, source: str) -> tuple[list[Document], list[ManifestError]]:
    """Documents up to the first syntax error, and the structural errors found."""
    documents: list[Document] = []
    errors: list[ManifestError] = []
    try:
        loader = yaml.SafeLoader(text)  # checks for unprintable characters up front
    except yaml.reader.ReaderError as exc:
        return [], [_reader_error(exc, text, source)]
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            errors.extend(_duplicate_keys(node, source))
            data = loader.construct_document(node)  # flattens `<<` merges in place
            if data is None:
                continue  # an empty document
            doc = _index(node, data)
            if not isinstance(data, dict):
                errors.append(
                    ManifestError(
                        source,
                        doc.line,
                        _mark(node)[1],
                        "",
                        f"a manifest must be a mapping with apiVersion, kind, metadata and spec, not a {type(data).__name__}",
                    )
                )
                continue
            documents.append(doc)
    except yaml.YAMLError as exc:
        errors.append(_syntax_error(exc, source))
    finally:
        loader.dispose()
    return documents, errors
