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

__all__ = ["feature_batches"]

WINDOW = 4 * 1024 * 1024
OPEN = (ord("{"), ord("["))
CLOSE = (ord("}"), ord("]"))


def _array_start(raw: bytes) -> int | None:
    """Index just after the ``[`` that opens the features array."""
    head = raw[:4096].lstrip()
    if head.startswith(b"["):
        return raw.index(b"[") + 1
    if not head.startswith(b"{"):
        return None
    for match in re.finditer(rb'"features"\s*:\s*\[', raw[: 64 * 1024 * 1024]):
        if _top_level_key(raw[: match.start()]):
            return match.end()
    return None


def _top_level_key(prefix: bytes) -> bool:
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


def _boundaries(raw: bytes, start: int) -> np.ndarray | None:
    """Positions of the top-level commas of the array and of its closing bracket."""
    data = np.frombuffer(raw, dtype=np.uint8)
    in_string = False
    depth = 0
    escaped_next = False
    cuts: list[np.ndarray] = []
    position = start
    while position < len(data):
        window = data[position : position + WINDOW]
        quote = window == ord('"')
        backslash = window == ord("\\")
        # a quote is escaped when an odd run of backslashes precedes it
        escaped = np.zeros(len(window), dtype=bool)
        if backslash.any():
            run = np.zeros(len(window), dtype=np.int64)
            idx = np.flatnonzero(backslash)
            # length of the backslash run ending at each backslash (vectorised via group starts)
            starts = np.r_[True, np.diff(idx) != 1]
            group = np.cumsum(starts) - 1
            first = idx[starts][group]
            run[idx] = idx - first + 1
            if escaped_next and idx.size and idx[0] == 0:
                return None  # a backslash run crosses the window edge: let the caller parse whole
            follows = np.zeros(len(window), dtype=bool)
            follows[1:] = backslash[:-1] & (run[:-1] % 2 == 1)
            escaped = follows
        if escaped_next and len(window):
            escaped[0] = True
        real_quote = quote & ~escaped
        toggles = np.cumsum(real_quote, dtype=np.int32) + (1 if in_string else 0)
        inside = (toggles % 2 == 1) & ~real_quote  # bytes within a string (quotes excluded)
        outside = ~inside & ~real_quote
        opening = ((window == OPEN[0]) | (window == OPEN[1])) & outside
        closing_bracket = ((window == CLOSE[0]) | (window == CLOSE[1])) & outside
        level = np.cumsum(opening.astype(np.int32) - closing_bracket, dtype=np.int32) + depth
        commas = np.flatnonzero((window == ord(",")) & outside & (level == 0))
        cuts.append(commas + position)
        closing = np.flatnonzero(level < 0)
        if closing.size:
            cuts.append(np.array([closing[0] + position]))
            return np.concatenate(cuts)
        depth = int(level[-1])
        in_string = bool(toggles[-1] % 2 == 1)
        escaped_next = bool(backslash[-1] and (run_length_at_end(backslash) % 2 == 1))
        position += len(window)
    return None


def run_length_at_end(backslash: np.ndarray) -> int:
    """How many backslashes end the window."""
    if not backslash[-1]:
        return 0
    not_bs = np.flatnonzero(~backslash)
    return int(len(backslash) - (not_bs[-1] + 1 if not_bs.size else 0))


def feature_batches(raw: bytes, batch: int = 20_000) -> Iterator[list[Any]] | None:
    """Lists of parsed features, ``batch`` at a time; ``None`` when the layout is not simple."""
    start = _array_start(raw)
    if start is None:
        return None
    cuts = _boundaries(raw, start)
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
