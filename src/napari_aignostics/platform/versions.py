"""Ordering application version numbers (semantic versions; a release above its pre-releases)."""

from __future__ import annotations

__all__ = ["semver_key"]


def semver_key(version: str) -> tuple[int | str, ...]:
    """A sort key: ``1.10.0`` above ``1.9.2``, ``1.0.0`` above ``1.0.0-beta``; build metadata ignored."""
    core, _, pre = version.partition("+")[0].partition("-")
    numbers = tuple(int(p) if p.isdigit() else 0 for p in core.split("."))
    return (*numbers, 1 if not pre else 0, pre)
