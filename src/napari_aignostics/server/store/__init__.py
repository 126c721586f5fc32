"""SQLite persistence of the local platform: every SQL statement of the server lives here.

One module per table family (:mod:`.tenants`, :mod:`.runs`, :mod:`.states`, :mod:`.access`) on
one connection (:mod:`.database`); rows come back typed (:mod:`.rows`).
"""

from __future__ import annotations

from .access import AccessTables
from .database import metadata_checksum, now_iso, token_hash
from .runs import ChecksumConflict, NewInput, NewItem, RunTables
from .states import StateTables
from .tenants import TenantTables

__all__ = [
    "ChecksumConflict",
    "NewInput",
    "NewItem",
    "Store",
    "metadata_checksum",
    "now_iso",
    "token_hash",
]


class Store(TenantTables, RunTables, StateTables, AccessTables):
    """The database of one local platform."""
