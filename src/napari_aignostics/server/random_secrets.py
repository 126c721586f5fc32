"""Random secrets the local platform hands out (tokens, share tokens)."""

from __future__ import annotations

import secrets

__all__ = ["new_secret"]


def new_secret(nbytes: int = 32) -> str:
    """A URL-safe random secret that never starts with ``-``.

    Users paste these after command-line flags (``--token T``); a leading dash would read as an option.
    """
    while True:
        token = secrets.token_urlsafe(nbytes)
        if not token.startswith("-"):
            return token
