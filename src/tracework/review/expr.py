"""A tiny, safe expression language for review rules: comparisons joined by and/or/not.

::

    work_time_s < 60 and parts < 3
    not (area.Cable > 0) or answer.surveycode == ""

Operands are numbers, quoted strings and fields from a fixed list (see :data:`NUMBER_FIELDS`,
:data:`TEXT_FIELDS`, ``area.<Category>`` and ``answer.<field>``). Nothing is evaluated by
Python: the text is tokenised and parsed into a small tree, checked against the field list and
the types, then walked. Sizes are bounded so a hostile tracework.toml cannot exhaust memory.
A comparison with a missing value (no work time recorded, say) is false.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from tracework.core.errors import ConfigError

__all__ = ["NUMBER_FIELDS", "TEXT_FIELDS", "Expression", "parse"]

NUMBER_FIELDS: dict[str, str] = {
    "work_time_s": "time on the task in seconds, as the platform measured it",
    "reward_cents": "the task's reward in cents",
    "parts": "how many of the taxonomy's categories were labelled",
    "annotations": "how many annotations the submission holds",
    "total_area": "labelled area in pixels, all categories",
    "batch_median_s": "the median work time of the submission's batch",
    "time_ratio": "work_time_s divided by the batch median",
}
TEXT_FIELDS: dict[str, str] = {
    "status": "the submission's status (Submitted, Approved, ...)",
    "time_kind": "what the work time measures",
}
MAX_CHARS = 1000
MAX_TOKENS = 200
MAX_DEPTH = 20

_TOKEN = re.compile(r"""\s*(?:
    (?P<num>\d+(?:\.\d+)?)
  | (?P<str>"[^"\\\x00-\x1f]*"|'[^'\\\x00-\x1f]*')
  | (?P<op><=|>=|==|!=|<|>|\(|\))
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)?)
)""", re.VERBOSE)
_COMPARE = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


@dataclass(frozen=True)
class _Field:
    name: str
    numeric: bool


@dataclass(frozen=True)
class _Literal:
    value: float | str


@dataclass(frozen=True)
class _Compare:
    op: str
    left: _Field | _Literal
    right: _Field | _Literal


@dataclass(frozen=True)
class _Bool:
    op: str  # and | or | not
    items: tuple[_Node, ...]


_Node = _Compare | _Bool


class _Parser:
    def __init__(self, text: str, code: str, categories: Collection[str]) -> None:
        self.code, self.categories = code, categories
        self.tokens = self._tokenise(text)
        self.pos = 0

    def fail(self, message: str) -> ConfigError:
        return ConfigError(f"tracework.toml [review] rule {self.code!r}: {message}",
                           hint="Expressions compare fields with numbers or quoted text, joined "
                                "by and / or / not; see `tracework review rules --help`.")

    def _tokenise(self, text: str) -> list[tuple[str, str]]:
        if len(text) > MAX_CHARS:
            raise self.fail(f"the expression is longer than {MAX_CHARS} characters")
        out, pos = [], 0
        while pos < len(text):
            if not text[pos:].strip():
                break
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise self.fail(f"cannot read the expression at character {pos + 1}: "
                                f"{text[pos:pos + 12]!r}")
            kind = m.lastgroup or ""
            value = m.group(kind)
            if kind == "name" and value in ("and", "or", "not"):
                kind = value
            out.append((kind, value))
            pos = m.end()
            if len(out) > MAX_TOKENS:
                raise self.fail(f"the expression has more than {MAX_TOKENS} parts")
        if not out:
            raise self.fail("the expression is empty")
        return out

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self, kind: str) -> str:
        got, value = self.peek()
        if got != kind:
            wanted = {"op": "a comparison (< <= > >= == !=)"}.get(kind, kind)
            raise self.fail(f"expected {wanted} but found {value or 'the end'!r}")
        self.pos += 1
        return value

    def parse(self) -> _Node:
        node = self.either(0)
        if self.pos != len(self.tokens):
            raise self.fail(f"unexpected {self.peek()[1]!r}")
        return node

    def either(self, depth: int) -> _Node:
        items = [self.both(depth)]
        while self.peek()[0] == "or":
            self.pos += 1
            items.append(self.both(depth))
        return items[0] if len(items) == 1 else _Bool("or", tuple(items))

    def both(self, depth: int) -> _Node:
        items = [self.negation(depth)]
        while self.peek()[0] == "and":
            self.pos += 1
            items.append(self.negation(depth))
        return items[0] if len(items) == 1 else _Bool("and", tuple(items))

    def negation(self, depth: int) -> _Node:
        if depth > MAX_DEPTH:
            raise self.fail(f"the expression nests deeper than {MAX_DEPTH}")
        if self.peek()[0] == "not":
            self.pos += 1
            return _Bool("not", (self.negation(depth + 1),))
        if self.peek()[0] == "op" and self.peek()[1] == "(":
            self.pos += 1
            node = self.either(depth + 1)
            if self.peek() != ("op", ")"):
                raise self.fail("a '(' is not closed")
            self.pos += 1
            return node
        return self.comparison()

    def comparison(self) -> _Compare:
        left = self.operand()
        op = self.take("op")
        if op not in _COMPARE:
            raise self.fail(f"{op!r} is not a comparison (use < <= > >= == !=)")
        right = self.operand()
        numeric = {isinstance(x, _Field) and x.numeric or isinstance(x, _Literal)
                   and isinstance(x.value, float) for x in (left, right)}
        if len(numeric) != 1:
            raise self.fail("a comparison mixes a number and text")
        if numeric == {False} and op not in ("==", "!="):
            raise self.fail(f"text can only be compared with == or !=, not {op}")
        return _Compare(op, left, right)

    def operand(self) -> _Field | _Literal:
        kind, value = self.peek()
        self.pos += 1
        if kind == "num":
            return _Literal(float(value))
        if kind == "str":
            return _Literal(value[1:-1])
        if kind == "name":
            return self.field(value)
        raise self.fail(f"expected a field, a number or quoted text but found {value or 'the end'!r}")

    def field(self, name: str) -> _Field:
        if name in NUMBER_FIELDS:
            return _Field(name, True)
        if name in TEXT_FIELDS:
            return _Field(name, False)
        head, _, rest = name.partition(".")
        if head == "area" and rest:
            if rest not in self.categories:
                raise self.fail(f"area.{rest}: {rest!r} is not a category of the taxonomy")
            return _Field(name, True)
        if head == "answer" and rest:
            return _Field(name, False)
        known = ", ".join([*NUMBER_FIELDS, *TEXT_FIELDS, "area.<Category>", "answer.<field>"])
        raise self.fail(f"unknown field {name!r} (known: {known})")


@dataclass(frozen=True)
class Expression:
    """A parsed rule expression; :meth:`evaluate` takes a field lookup."""

    text: str
    tree: _Node
    fields: tuple[str, ...]

    def evaluate(self, lookup: Callable[[str], Any]) -> bool:
        return _walk(self.tree, lookup)


def _operand(node: _Field | _Literal, lookup: Callable[[str], Any]) -> Any:
    if isinstance(node, _Literal):
        return node.value
    value = lookup(node.name)
    if value is None:
        return None
    if node.numeric:
        return float(value)
    return value if isinstance(value, str) else str(value)


def _walk(node: _Node, lookup: Callable[[str], Any]) -> bool:
    if isinstance(node, _Compare):
        a, b = _operand(node.left, lookup), _operand(node.right, lookup)
        if a is None or b is None:
            return False
        return bool(_COMPARE[node.op](a, b))
    if node.op == "not":
        return not _walk(node.items[0], lookup)
    if node.op == "and":
        return all(_walk(item, lookup) for item in node.items)
    return any(_walk(item, lookup) for item in node.items)


def _fields(node: _Node, out: list[str]) -> None:
    if isinstance(node, _Compare):
        for side in (node.left, node.right):
            if isinstance(side, _Field) and side.name not in out:
                out.append(side.name)
        return
    for item in node.items:
        _fields(item, out)


def parse(text: str, *, code: str = "expression",
          categories: Collection[str] = ()) -> Expression:
    """Parse ``text``; a :class:`ConfigError` names the rule and what is wrong."""
    tree = _Parser(text, code, categories).parse()
    names: list[str] = []
    _fields(tree, names)
    return Expression(text, tree, tuple(names))


def describe_fields(values: Mapping[str, Any]) -> str:
    """``work_time_s = 12, parts = 1``: the values an expression looked at, as evidence."""
    def show(v: Any) -> str:
        if v is None:
            return "unknown"
        if isinstance(v, float):
            return f"{v:g}"
        return repr(v) if isinstance(v, str) else str(v)
    return ", ".join(f"{k} = {show(v)}" for k, v in values.items())
