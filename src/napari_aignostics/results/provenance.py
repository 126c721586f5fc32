"""Where results came from: application, version, run, item, dates and platform.

Read from the run manifest beside an item folder; shown in the Review tab, kept in layer
metadata and written into exports.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from ..platform.results_layout import MANIFEST_NAME, read_manifest

__all__ = ["Provenance", "provenance_of"]

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Provenance:
    """The origin of one item's results (``None`` where the folder does not record it)."""

    application: str | None = None
    version: str | None = None
    run_id: str | None = None
    item_id: str | None = None
    external_id: str | None = None
    submitted_at: str | None = None
    terminated_at: str | None = None
    platform: str | None = None
    """API root URL of the platform the run came from."""

    @property
    def platform_label(self) -> str:
        """``local platform`` for the embedded one on loopback, else the URL (or ``unknown``)."""
        if not self.platform:
            return "unknown"
        host = urlsplit(self.platform).hostname or ""
        return "local platform" if host in LOOPBACK else self.platform

    def as_dict(self) -> dict[str, str]:
        """The known fields as strings (for layer metadata and exports)."""
        out = {k: v for k, v in asdict(self).items() if v}
        if self.platform:
            out["platform"] = self.platform_label
        return out

    def lines(self) -> list[tuple[str, str]]:
        """(label, value) rows for display."""
        rows = [
            ("Application", f"{self.application or '?'} {self.version or ''}".strip()),
            ("Run", self.run_id or "?"),
            ("Item", self.item_id or self.external_id or "?"),
            ("Slide", _file_name(self.external_id) or "?"),
            ("Submitted", _short_time(self.submitted_at) or "?"),
            ("Finished", _short_time(self.terminated_at) or "?"),
            ("Platform", self.platform_label),
        ]
        return rows


def _file_name(external_id: str | None) -> str | None:
    """A slide's file name (its external id is often the whole local path)."""
    return external_id.replace("\\", "/").rsplit("/", 1)[-1] if external_id else None


def _short_time(stamp: str | None) -> str | None:
    """An ISO time to the minute, in UTC: ``2026-12-02 08:23 UTC``."""
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def provenance_of(folder: Path) -> Provenance:
    """The provenance of an item folder (or a run folder with one item), from its run manifest.

    A folder without a manifest (copied files, a single artifact) gives an empty provenance; a
    damaged manifest raises the :class:`ValueError` of :func:`read_manifest`.
    """
    folder = folder if folder.is_dir() else folder.parent
    for manifest in (folder / MANIFEST_NAME, folder.parent / MANIFEST_NAME):
        if not manifest.is_file():
            continue
        run = read_manifest(manifest)
        item = next(
            (i for i in run.items if (manifest.parent / i.folder).resolve() == folder.resolve()),
            run.items[0] if len(run.items) == 1 and manifest.parent == folder else None,
        )
        return Provenance(
            application=run.application_id or None,
            version=run.version_number or None,
            run_id=run.run_id or None,
            item_id=item.item_id if item else None,
            external_id=item.external_id if item else None,
            submitted_at=run.submitted_at,
            terminated_at=run.terminated_at,
            platform=run.platform,
        )
    return Provenance()
