"""The Submit tab on a bare ViewerModel: required choices start empty, reasons as text, skipping."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from napari.components import ViewerModel

from napari_aignostics.apps.schemas import tme_input_schema
from napari_aignostics.platform import models as m
from napari_aignostics.slides.metadata import SlideMetadata
from napari_aignostics.slides.slide_ref import SlideRef
from napari_aignostics.widgets.submit_panel import CHECKSUM, VALID, SubmitPanel
from napari_aignostics.widgets.workers import WorkerPool
from napari_aignostics.workflow.session import Session


class TmeSession(Session):
    """The session's answers without a platform: local-tme's real input schema, computed slides."""

    def __init__(self) -> None:
        super().__init__()
        self.client = object()  # type: ignore[assignment]  # "connected"; nothing calls it here
        self.submitted: list[Sequence[tuple[SlideRef, dict[str, Any]]]] = []

    def applications(self) -> list[m.ApplicationReadShortResponse]:
        return [m.ApplicationReadShortResponse(application_id="local-tme", name="local-tme",
                                               regulatory_classes=[], description="")]

    def versions(self, application_id: str) -> list[str]:
        return ["1.0.0"]

    def version(self, application_id: str, version: str) -> m.VersionReadResponse:
        return m.VersionReadResponse(
            version_number=version, changelog="", released_at=datetime(2026, 1, 1, tzinfo=UTC),
            output_artifacts=[],
            input_artifacts=[m.InputArtifact(name="whole_slide_image", mime_type="image/tiff",
                                             metadata_schema=tme_input_schema())])

    @staticmethod
    def prepare_slide(path: Path) -> SlideMetadata:
        mpp = None if "no-mpp" in path.name else 0.25
        return SlideMetadata(path, 2000, 1500, mpp, "image/tiff", "AAAAAA==", 12)

    def submit(self, application_id: str, version: str,
               slides: Sequence[tuple[SlideRef, dict[str, Any]]], note: str = "",
               tags: Sequence[str] = (), progress: Any = None) -> str:
        self.submitted.append(slides)
        return "run-1"


@pytest.fixture
def panel(qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SubmitPanel]:
    monkeypatch.setenv("NAPARI_AIGNOSTICS_CONFIG", str(tmp_path / "config"))
    pool = WorkerPool()
    widget = SubmitPanel(ViewerModel(), TmeSession(), pool)
    qtbot.addWidget(widget)
    widget.resize(380, 800)  # the dock's default width
    widget.show()
    widget.refresh_applications()
    qtbot.waitUntil(lambda: bool(widget.schema), timeout=10_000)
    yield widget
    pool.cancel_all()


def test_required_choice_starts_empty_and_reasons_are_text(panel: SubmitPanel, qtbot: Any,
                                                            tmp_path: Path) -> None:
    assert panel.form_values()["specimen.disease"] == ""  # no default in the schema: none chosen
    assert panel.form_values()["specimen.tissue"] == "OTHER"  # the schema's default
    for name in ("good.svs", "no-mpp.svs"):
        (tmp_path / name).write_bytes(b"x")
        panel.add_slide(tmp_path / name)
    qtbot.waitUntil(lambda: all(row["metadata"] is not None for row in panel.rows),
                    timeout=10_000)
    marks = [panel.table.item(i, VALID).text() for i in range(2)]
    assert marks == ["✘", "✘"] and not panel.submit_button.isEnabled()
    assert "good.svs</b>: choose Disease" in panel.problems.text()
    assert "no-mpp.svs</b>: no pixel size" in panel.problems.text()

    # ✔/✘ and the checksum are visible at the default width, without scrolling
    viewport = panel.table.viewport().width()
    assert panel.table.columnViewportPosition(CHECKSUM) + panel.table.columnWidth(CHECKSUM) \
        <= viewport
    assert panel.table.item(0, CHECKSUM).text() == "AAAAAA=="

    panel.set_form_value("specimen.disease", "LUNG_CANCER")
    assert [panel.table.item(i, VALID).text() for i in range(2)] == ["✔", "✘"]
    assert "good.svs" not in panel.problems.text()
    assert panel.submit_button.text() == "Submit 1 slide (skip 1 invalid)"
    panel.submit()
    qtbot.waitUntil(lambda: "submitted" in panel.status.text(), timeout=10_000)
    ((ref, metadata),) = panel.session.submitted[0]  # type: ignore[attr-defined]
    assert ref.path.name == "good.svs" and metadata["specimen"]["disease"] == "LUNG_CANCER"
    assert "Skipped 1 invalid slide: no-mpp.svs: no pixel size" in panel.status.text()
