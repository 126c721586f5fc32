"""The subset of PostgreSQL jsonpath the API's ``custom_metadata`` filters use.

Supported: ``$.a.b`` paths with ``[*]``, comparisons ``== != > >= < <=`` against JSON literals,
``like_regex "…" [flag "ims"]`` (RE2 syntax, matched in linear time: no backreferences or
lookaround, so no pattern can stall the server), filters ``path ? (@ …)``, and ``&&`` / ``||`` between conditions.
``$.`` is added when missing, as the platform does. Anything else is a :class:`JsonPathError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import re2

__all__ = ["JsonPathError", "compile_filter"]

_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>==|!=|>=|<=|&&|\|\||[<>?()@$.*\[\]])|(?P<word>[A-Za-z_][A-Za-z0-9_]*))"""
)


class JsonPathError(ValueError):
    """The filter is not valid (or not supported) jsonpath."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise JsonPathError(f"cannot parse the jsonpath near {text[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


Pred = Callable[[Any], bool]


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.t = tokens
        self.i = 0

    def peek(self) -> str | None:
        return self.t[self.i][1] if self.i < len(self.t) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        if self.i >= len(self.t):
            raise JsonPathError("the jsonpath ends too early")
        token = self.t[self.i]
        if value is not None and token[1] != value:
            raise JsonPathError(f"expected {value!r} in the jsonpath, found {token[1]!r}")
        self.i += 1
        return token

    def path(self) -> list[str]:
        """After ``$`` or ``@``: the member names, ``*`` for ``[*]``."""
        steps = []
        while self.peek() in {".", "["}:
            if self.take()[1] == ".":
                steps.append(self.take()[1])
            else:
                self.take("*")
                self.take("]")
                steps.append("*")
        return steps

    def literal(self) -> Any:
        kind, value = self.take()
        if kind in {"str", "num"}:
            return json.loads(value)
        if value in {"true", "false", "null"}:
            return json.loads(value)
        raise JsonPathError(f"expected a value in the jsonpath, found {value!r}")

    def expr(self) -> Pred:
        left = self.term()
        while self.peek() in {"&&", "||"}:
            op = self.take()[1]
            right = self.term()
            left = _and(left, right) if op == "&&" else _or(left, right)
        return left

    def term(self) -> Pred:
        if self.peek() == "(":
            self.take("(")
            inner = self.expr()
            self.take(")")
            return inner
        root = self.take()[1]
        if root not in {"$", "@"}:
            raise JsonPathError("a jsonpath condition starts with $ or @")
        steps = self.path()
        if self.peek() == "?":
            self.take("?")
            self.take("(")
            cond = self.expr()
            self.take(")")
            return lambda doc: any(cond(v) for v in _unwrap(_walk(doc, steps)))
        op = self.peek()
        if op in {"==", "!=", ">", ">=", "<", "<="}:
            self.take()
            value = self.literal()
            return lambda doc: any(_compare(v, op, value) for v in _unwrap(_walk(doc, steps)))
        if op == "like_regex":
            self.take()
            pattern = self.literal()
            flags = ""
            if self.peek() == "flag":
                self.take()
                flags = str(self.literal())
            regex = _linear_regex(str(pattern), flags)
            return lambda doc: any(
                isinstance(v, str) and regex.search(v) for v in _unwrap(_walk(doc, steps))
            )
        return lambda doc: any(True for _ in _walk(doc, steps))


def _linear_regex(pattern: str, flags: str) -> Any:
    """``pattern`` compiled by RE2 (linear time in the subject's length, whatever the pattern)."""
    unknown = set(flags) - set("ims")
    if unknown:
        raise JsonPathError(f"like_regex flag {''.join(sorted(unknown))!r} is not supported (i, m, s)")
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = "i" not in flags
    options.dot_nl = "s" in flags
    try:
        return re2.compile(f"(?m){pattern}" if "m" in flags else pattern, options)
    except re2.error as exc:
        raise JsonPathError(f"like_regex pattern {pattern!r} is not supported: {exc}") from None


def _and(a: Pred, b: Pred) -> Pred:
    return lambda doc: a(doc) and b(doc)


def _or(a: Pred, b: Pred) -> Pred:
    return lambda doc: a(doc) or b(doc)


def _walk(doc: Any, steps: list[str]) -> list[Any]:
    values = [doc]
    for step in steps:
        nxt = []
        for value in values:
            if step == "*":
                if isinstance(value, list):
                    nxt.extend(value)
            elif isinstance(value, dict) and step in value:
                nxt.append(value[step])
            elif isinstance(value, list):  # lax mode unwraps arrays
                nxt.extend(v[step] for v in value if isinstance(v, dict) and step in v)
        values = nxt
    return values


def _unwrap(values: list[Any]) -> list[Any]:
    """Lax mode: an array stands for its elements."""
    out: list[Any] = []
    for value in values:
        out.extend(value if isinstance(value, list) else [value])
    return out


def _compare(left: Any, op: str, right: Any) -> bool:
    try:
        if op == "==":
            return bool(left == right)
        if op == "!=":
            return bool(left != right)
        if isinstance(left, bool) or isinstance(right, bool):
            return False
        if isinstance(left, (int, float)) != isinstance(right, (int, float)):
            return False
        return bool(
            {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[op]
        )
    except TypeError:
        return False


def compile_filter(text: str) -> Pred:
    """A predicate over a custom-metadata document (None never matches)."""
    text = text.strip()
    if not text.startswith(("$", "(", "@")):
        text = "$." + text
    parser = _Parser(_tokens(text))
    pred = parser.expr()
    if parser.i != len(parser.t):
        raise JsonPathError(f"unexpected {parser.peek()!r} in the jsonpath")
    return lambda doc: doc is not None and pred(doc)
