"""Errors raised for slides that cannot be opened or read."""

from __future__ import annotations

from pathlib import Path


class SlideError(Exception):
    """A file that is not a readable whole-slide image; the message names the file and what to do."""

    def __init__(self, path: str | Path, problem: str, hint: str = "") -> None:
        self.path = Path(path)
        self.problem = problem
        self.hint = hint
        text = f"{self.path.name}: {problem}"
        if hint:
            text += f" {hint}"
        super().__init__(text)
