"""Splitting a big GeoJSON array of features into batches without building the whole JSON tree.

The top-level ``features`` array (or a bare top-level array) is cut at its element boundaries with
vectorised byte scanning (quotes, escapes and bracket depth), window by window; each batch is parsed
with orjson on its own, so peak memory is one batch of Python objects instead of the whole file.
Anything unexpected returns ``None`` and the caller parses the file whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson

__all__ = ["array_start", "boundaries", "feature_batches"]

WINDOW = 4 * 1024 * 1024
OPEN = (ord("{"), ord("["))
CLOSE = (ord("}"), ord("]"))


def array_start(raw: bytes | bytearray) -> int | None:
    """Index just after the ``[`` that opens the features array."""
    head = raw[:4096].lstrip()
    if head.startswith(b"["):
        return raw.index(b"[") + 1
    if not head.startswith(b"{"):
        return None
    pattern = re.compile(rb'"features"\s*:\s*\[')
    for match in pattern.finditer(raw, 0, 64 * 1024 * 1024):
        if _top_level_key(raw[: match.start()]):
            return match.end()
    return None


def _top_level_key(prefix: bytes | bytearray) -> bool:
    """Whether a key starting right after ``prefix`` belongs to the top-level object."""
    data = np.frombuffer(prefix, dtype=np.uint8)
    if b"\\" in prefix:
        return False  # escapes before the features: not worth the risk, parse whole
    real_quote = data == ord('"')
    if int(real_quote.sum()) % 2:
        return False  # inside a string
    inside = (np.cumsum(real_quote) % 2 == 1) & ~real_quote
    outside = ~inside & ~real_quote
    depth = int((np.isin(data, OPEN) & outside).sum() - (np.isin(data, CLOSE) & outside).sum())
    return depth == 1


STRUCTURAL = np.zeros(256, dtype=np.uint8)
BACKSLASH_BYTE = ord("\\")
QUOTE, BACKSLASH, OPENING, CLOSING, COMMA = 1, 2, 3, 4, 5
STRUCTURAL[ord('"')] = QUOTE
STRUCTURAL[ord("\\")] = BACKSLASH
STRUCTURAL[list(OPEN)] = OPENING
STRUCTURAL[list(CLOSE)] = CLOSING
STRUCTURAL[ord(",")] = COMMA


def _escaped_quotes(kind: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Which structural entries are quotes escaped by an odd run of backslashes right before them."""
    backslash = kind == BACKSLASH
    adjacent = np.zeros(len(kind), dtype=bool)
    adjacent[1:] = backslash[:-1] & (np.diff(where) == 1)  # entry k-1 is a backslash just before k
    # length of the backslash run ending at each entry: runs restart where the chain breaks
    chained = backslash & adjacent
    starts = backslash & ~chained
    group = np.cumsum(starts)
    first = np.flatnonzero(starts)
    run = np.zeros(len(kind), dtype=np.int64)
    idx = np.flatnonzero(backslash)
    run[idx] = idx - first[group[idx] - 1] + 1
    escaped = np.zeros(len(kind), dtype=bool)
    escaped[1:] = adjacent[1:] & (run[:-1] % 2 == 1)
    return escaped & (kind != BACKSLASH)


def boundaries(raw: bytes | bytearray, start: int) -> np.ndarray | None:
    """Positions of the top-level commas of the array and of its closing bracket.

    Each window is reduced to its structural bytes (quotes, backslashes, brackets, commas) first;
    string state and nesting depth are then running sums over that much shorter sequence.
    """
    data = np.frombuffer(raw, dtype=np.uint8)
    in_string = False
    depth = 0
    cuts: list[np.ndarray] = []
    position = start
    while position < len(data):
        end = position + WINDOW
        while end < len(data) and data[end - 1] == BACKSLASH_BYTE:
            end += 1  # a backslash run never crosses a window edge
        codes = STRUCTURAL[data[position:end]]
        where = np.flatnonzero(codes)
        kind = codes[where]
        quote = kind == QUOTE
        if (kind == BACKSLASH).any():
            quote &= ~_escaped_quotes(kind, where)
        toggles = np.cumsum(quote, dtype=np.int32) + (1 if in_string else 0)
        outside = (toggles % 2 == 0) & ~quote
        step = ((kind == OPENING) & outside).astype(np.int32) - ((kind == CLOSING) & outside)
        level = np.cumsum(step, dtype=np.int32) + depth
        commas = where[(kind == COMMA) & outside & (level == 0)]
        cuts.append(commas + position)
        closing = np.flatnonzero(level < 0)
        if closing.size:
            cuts.append(np.array([where[closing[0]] + position]))
            return np.concatenate(cuts)
        if len(kind):
            depth = int(level[-1])
            in_string = bool(toggles[-1] % 2 == 1)
        position = end
    return None


def feature_batches(raw: bytes | bytearray, batch: int = 20_000) -> Iterator[list[Any]] | None:
    """Lists of parsed features, ``batch`` at a time; ``None`` when the layout is not simple."""
    start = array_start(raw)
    if start is None:
        return None
    cuts = boundaries(raw, start)
    if cuts is None:
        return None
    edges = np.concatenate([[start - 1], cuts])
    if len(edges) == 2 and not raw[start : edges[1]].strip():
        return iter(())  # an empty array

    def batches() -> Iterator[list[Any]]:
        for first in range(0, len(edges) - 1, batch):
            last = min(first + batch, len(edges) - 1)
            chunk = raw[edges[first] + 1 : edges[last]]
            yield orjson.loads(b"[" + chunk + b"]")

    return batches()
