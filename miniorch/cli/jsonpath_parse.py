"""The parser of kubectl's JSONPath templates: text to frozen nodes, pure.

Follows client-go's util/jsonpath parser rule for rule (what ends a field, how `[...]`,
`[?(...)]`, quotes and numbers are read) and its error texts; `jsonpath` runs the nodes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Union

from miniorch.errors import MiniorchError


class JSONPathError(MiniorchError, ValueError):
    """A template that does not parse or cannot be executed; the text is kubectl's."""


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Field:
    name: str


@dataclass(frozen=True)
class Index:
    """`[start:stop:step]`; None is an omitted bound; `derived` marks `[n]` (stop = n + 1)."""

    start: int | None
    stop: int | None
    step: int | None
    derived: bool = False


@dataclass(frozen=True)
class Filter:
    left: Path
    op: str
    right: Path


@dataclass(frozen=True)
class Literal:
    value: int | float | bool


@dataclass(frozen=True)
class Wildcard:
    pass


@dataclass(frozen=True)
class Recursive:
    pass


@dataclass(frozen=True)
class UnionNode:
    paths: tuple[Path, ...]


@dataclass(frozen=True)
class Identifier:
    name: str


@dataclass(frozen=True)
class Key:
    """`['a.b']`: the literal key when the map has it, else kubectl's reading `.a.b` (`dotted`)."""

    key: str
    dotted: Path


Node = Union[Text, Field, Index, Filter, Literal, Wildcard, Recursive, UnionNode, Identifier, Key, "Path"]


@dataclass(frozen=True)
class Path:
    """The inside of one `{...}`: its nodes applied one after the other."""

    nodes: tuple[Node, ...] = field(default_factory=tuple)


_DICT_KEY = re.compile(r"^'([^']*)'$|^\"([^\"]*)\"$")  # kubectl takes only '...'; "..." is ours
_SLICE = re.compile(r"^(-?\d*)(:-?\d*)?(:-?\d*)?$")
_FILTER = re.compile(r"^([^!<>=]+)([!<>=]+)(.+?)$", re.DOTALL)
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
_TERMINATORS = set(" \t\r\n.,[]$@{}")


def _unquote(text: str) -> str:
    """Go's strconv.Unquote, also for single quotes (client-go's UnquoteExtend)."""
    quote, body = text[0], text[1:-1]

    def one(m: re.Match[str]) -> str:
        esc = m.group(1)
        if esc in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[esc]
        if esc == quote:
            return quote
        if esc[0] in "xuU":
            return chr(int(esc[1:], 16))
        if esc[0] in "01234567":
            return chr(int(esc, 8))
        raise JSONPathError(f"unquote string {text} error invalid syntax")

    return _ESCAPE.sub(one, body)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def template(self) -> list[Text | Path]:
        out: list[Text | Path] = []
        while self.pos < len(self.text):
            start = self.text.find("{", self.pos)
            if start < 0:
                out.append(Text(self.text[self.pos :]))
                break
            if start > self.pos:
                out.append(Text(self.text[self.pos : start]))
            self.pos = start + 1
            out.append(Path(tuple(self.action(end="}"))))
        return out

    def action(self, end: str | None) -> list[Node]:
        """Nodes up to the closing brace (or to the end of the text when `end` is None)."""
        nodes: list[Node] = []
        text = self.text
        while True:
            if self.pos >= len(text):
                if end is None:
                    return nodes
                raise JSONPathError("unclosed action")
            rest, ch = text[self.pos :], text[self.pos]
            if end and rest.startswith(end):
                self.pos += 1
                return nodes
            if rest.startswith("[?("):
                nodes.append(self.filter())
            elif rest.startswith(".."):
                if nodes and isinstance(nodes[-1], Recursive):
                    raise JSONPathError("invalid multiple recursive descent")
                self.pos += 2
                nodes.append(Recursive())
                if self.pos < len(text) and (text[self.pos].isalnum() or text[self.pos] == "_"):
                    nodes.append(self.field())
            elif ch in "\r\n":
                raise JSONPathError("unclosed action")
            elif ch in " @$":
                self.pos += 1
            elif ch == "[":
                nodes.extend(self.array())
            elif ch in "\"'":
                nodes.append(self.quote(ch))
            elif ch == ".":
                self.pos += 1
                nodes.append(self.field())
            elif ch in "+-" or ch.isdigit():
                nodes.append(self.number())
            elif ch.isalnum() or ch == "_":
                nodes.append(self.identifier())
            else:
                raise JSONPathError(f"unrecognized character in action: U+{ord(ch):04X} {ch!r}")

    def _word(self) -> str:
        """Up to the next unescaped terminator; a backslash escapes the next character."""
        start, text = self.pos, self.text
        while self.pos < len(text) and text[self.pos] not in _TERMINATORS:
            self.pos += 2 if text[self.pos] == "\\" else 1
        self.pos = min(self.pos, len(text))
        return text[start : self.pos]

    def field(self) -> Field | Wildcard:
        word = self._word()
        return Wildcard() if word == "*" else Field(word.replace("\\", ""))

    def identifier(self) -> Identifier | Literal:
        word = self._word()
        return Literal(word == "true") if word in ("true", "false") else Identifier(word)

    def number(self) -> Literal:
        start = self.pos
        if self.text[self.pos] in "+-":
            self.pos += 1
        while self.pos < len(self.text) and (self.text[self.pos].isdigit() or self.text[self.pos] == "."):
            self.pos += 1
        word = self.text[start : self.pos]
        for conv in (int, float):
            try:
                return Literal(conv(word))
            except ValueError:
                continue
        raise JSONPathError(f"cannot parse number {word}")

    def quote(self, q: str) -> Text:
        start = self.pos
        self.pos += 1
        while True:
            if self.pos >= len(self.text) or self.text[self.pos] == "\n":
                raise JSONPathError("unterminated quoted string")
            ch = self.text[self.pos]
            self.pos += 1
            if ch == q and self.text[self.pos - 2] != "\\":
                return Text(_unquote(self.text[start : self.pos]))

    def array(self) -> list[Node]:
        end = self.pos
        while end < len(self.text) and self.text[end] not in "]\n":
            end += 1
        if end >= len(self.text) or self.text[end] == "\n":
            raise JSONPathError("unterminated array")
        inner = self.text[self.pos + 1 : end]
        self.pos = end + 1
        if inner == "*":
            inner = ":"
        parts = inner.split(",")
        if len(parts) > 1:
            return [UnionNode(tuple(Path(tuple(_sub(f"[{p.strip()}]"))) for p in parts))]
        key = _DICT_KEY.match(inner)
        if key:
            return _key_nodes(key.group(1) if key.group(1) is not None else key.group(2))
        return [_slice(inner)]

    def filter(self) -> Filter:
        self.pos += 3
        start, text = self.pos, self.text
        quote: str | None = None
        closed = False
        while True:
            if self.pos >= len(text) or text[self.pos] == "\n":
                raise JSONPathError("unterminated filter")
            ch = text[self.pos]
            self.pos += 1
            if ch in "\"'":
                if quote is None:
                    quote = ch
                elif ch == quote and text[self.pos - 2] != "\\":
                    closed = True
            elif ch == ")" and (quote is None) == (not closed):
                break
        if self.pos >= len(text) or text[self.pos] != "]":
            raise JSONPathError("unclosed array expect ]")
        inner = text[start : self.pos - 1]
        self.pos += 1
        m = _FILTER.match(inner)
        if m is None:
            return Filter(Path(tuple(_sub(inner))), "exists", Path())
        return Filter(Path(tuple(_sub(m.group(1)))), m.group(2), Path(tuple(_sub(m.group(3)))))


def _sub(text: str) -> list[Node]:
    p = _Parser(text)
    return p.action(end=None)


def _key_nodes(key: str) -> list[Node]:
    """`['k']` is `.k` to kubectl, so `['a.b']` is `.a.b`; a key with dots is tried literally first."""
    if "." in key and "\\" not in key:
        return [Key(key, Path(tuple(_sub("." + key))))]
    return _sub("." + key)


def _slice(inner: str) -> Index:
    m = _SLICE.match(inner)
    if m is None:
        raise JSONPathError(f"invalid array index {inner}")
    first, second, third = m.group(1), m.group(2), m.group(3)

    def num(text: str) -> int:
        try:
            return int(text)
        except ValueError as exc:
            raise JSONPathError(f"array index {text} is not a number") from exc

    start = num(first) if first else None
    stop: int | None = None
    derived = second is None
    if derived:
        stop = (start or 0) + 1
    elif second[1:]:
        stop = num(second[1:])
    step = num(third[1:]) if third and third[1:] else None
    return Index(start, stop, step, derived)


def parse(template: str) -> list[Text | Path]:
    """The template's parts; raises JSONPathError worded as kubectl's (`error parsing jsonpath ...`)."""
    try:
        return _Parser(template).template()
    except JSONPathError as exc:
        raise JSONPathError(f"error parsing jsonpath {template}, {exc}") from None
