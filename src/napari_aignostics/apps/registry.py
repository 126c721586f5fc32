"""The applications the local platform serves by default."""

from __future__ import annotations

from .base import ApplicationSpec


def builtin_applications() -> list[ApplicationSpec]:
    """All built-in applications, newest versions last."""
    return []
