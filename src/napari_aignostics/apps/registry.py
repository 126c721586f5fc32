"""The applications the local platform serves by default."""

from __future__ import annotations

from .base import ApplicationSpec


def builtin_applications() -> list[ApplicationSpec]:
    """``test-app`` and ``local-tme``."""
    from .builtin import LOCAL_TME, TEST_APP

    return [TEST_APP, LOCAL_TME]
