"""Panel logic on a bare ViewerModel (no canvas, no platform): slide references, stale answers, review handles.

The real-viewer, real-platform end-to-end runs are in test_widgets_dock.py and test_widgets_paths.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from napari.components import ViewerModel
from napari.layers import Image, Points

from napari_aignostics.apps.schemas import technical_input_schema
from napari_aignostics.apps.writers import write_geojson
from napari_aignostics.platform import models as m
from napari_aignostics.results.coords import to_data
from napari_aignostics.slides.layers import METADATA_KEY
from napari_aignostics.slides.metadata import SlideMetadata
from napari_aignostics.slides.slide_ref import SlideRef, find_slide, slide_ref_of
from napari_aignostics.widgets.cell_layers import ClassImage
from napari_aignostics.widgets.results_loader import ResultsLoader
from napari_aignostics.widgets.review_panel import ReviewPanel
from napari_aignostics.widgets.submit_panel import SubmitPanel
from napari_aignostics.widgets.workers import WorkerPool
from napari_aignostics.workflow.session import Session

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class FakeSession(Session):
    """The session's answers without a platform: one application, one version, computed slides."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__()
        self.settings.results_dir = str(tmp_path / "results")
        self.client = object()  # type: ignore[assignment]  # "connected"; nothing calls it here
        self.submitted: list[tuple[str, str, Sequence[tuple[SlideRef, dict[str, Any]]]]] = []
        self.version_delay: dict[str, float] = {}

    def applications(self) -> list[m.ApplicationReadShortResponse]:
        return [m.ApplicationReadShortResponse(application_id=app, name=app, regulatory_classes=[],
                                               description="") for app in ("test-app", "other")]

    def versions(self, application_id: str) -> list[str]:
        time.sleep(self.version_delay.get(application_id, 0.0))
        return ["1.0.0"] if application_id == "test-app" else ["9.9.9"]

    def version(self, application_id: str, version: str) -> m.VersionReadResponse:
        schema = technical_input_schema()
        return m.VersionReadResponse(
            version_number=version, changelog="", released_at=NOW, output_artifacts=[],
            input_artifacts=[m.InputArtifact(name="whole_slide_image", mime_type="image/tiff",
                                             metadata_schema=schema)])

    @staticmethod
    def prepare_slide(path: Path) -> SlideMetadata:
        return SlideMetadata(path, 2220, 2967, 0.499, "image/tiff", "AAAAAA==", 12)

    def submit(self, application_id: str, version: str,
               slides: Sequence[tuple[SlideRef, dict[str, Any]]], note: str = "",
               tags: Sequence[str] = (), progress: Any = None) -> str:
        self.submitted.append((application_id, version, slides))
        self.run_slides["run-1"] = {ref.external_id: ref for ref, _ in slides}
        return "run-1"


@pytest.fixture
def session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSession:
    monkeypatch.setenv("NAPARI_AIGNOSTICS_CONFIG", str(tmp_path / "config"))
    return FakeSession(tmp_path)


@pytest.fixture
def pool(qtbot: Any) -> Any:
    workers = WorkerPool()
    yield workers
    workers.cancel_all()


def _slide_layer(viewer: ViewerModel, path: Path) -> Any:
    path.write_bytes(b"not read: the fake session computes the metadata")
    meta = {"path": str(path), "mpp": 0.499, "level_dimensions": [[2220, 2967]]}
    return viewer.add_image(np.zeros((4, 4, 3), np.uint8), rgb=True, name=path.stem,
                            metadata={METADATA_KEY: meta})


def test_submit_creates_the_slide_reference_once(session: FakeSession, pool: WorkerPool,
                                                 qtbot: Any, tmp_path: Path) -> None:
    viewer = ViewerModel()
    layer = _slide_layer(viewer, tmp_path / "slide.svs")
    viewer.add_image(np.zeros((4, 4)), name="not a slide")
    panel = SubmitPanel(viewer, session, pool)
    qtbot.addWidget(panel)
    panel.refresh_applications()
    qtbot.waitUntil(lambda: bool(panel.schema), timeout=10_000)
    panel.add_selected_layer()  # the selection is the plain image: the topmost slide is taken
    qtbot.waitUntil(panel.submit_button.isEnabled, timeout=10_000)
    sent: list[tuple[str, dict[str, SlideRef]]] = []
    panel.submitted.connect(lambda run_id, slides: sent.append((run_id, slides)))
    panel.submit()
    qtbot.waitUntil(lambda: bool(sent), timeout=10_000)

    (_, _, slides), = session.submitted
    (ref, metadata), = slides
    assert ref.layer is layer and ref.path == tmp_path / "slide.svs"
    assert (ref.size, ref.mpp, ref.checksum) == ((2220, 2967), 0.499, "AAAAAA==")
    assert metadata["width_px"] == 2220 and metadata["checksum_base64_crc32c"] == "AAAAAA=="
    assert sent == [("run-1", {ref.external_id: ref})]
    assert session.slide_of("run-1", str((tmp_path / "slide.svs").resolve())) is ref


def test_stale_version_answers_are_dropped(session: FakeSession, pool: WorkerPool,
                                           qtbot: Any) -> None:
    session.version_delay = {"test-app": 0.3}  # the first answer arrives after the second
    panel = SubmitPanel(ViewerModel(), session, pool)
    qtbot.addWidget(panel)
    panel.refresh_applications()
    qtbot.waitUntil(lambda: panel.application.count() == 2, timeout=10_000)
    panel.select_application("other")
    qtbot.waitUntil(lambda: panel.version.currentText() == "9.9.9", timeout=10_000)
    qtbot.wait(500)  # the slow test-app answer came back meanwhile and was dropped
    assert [panel.version.itemText(i) for i in range(panel.version.count())] == ["9.9.9"]


def test_pool_keys_report_only_the_latest_task(pool: WorkerPool, qtbot: Any) -> None:
    answers: list[str] = []
    gate = threading.Event()
    pool.start(lambda: gate.wait(5) and "old", on_done=answers.append, key="k")
    pool.start(lambda: "new", on_done=answers.append, key="k")
    pool.start(lambda: "other", on_done=answers.append, key="j")
    gate.set()
    qtbot.waitUntil(lambda: not pool.busy, timeout=10_000)
    assert sorted(answers) == ["new", "other"]


def test_fallback_matches_open_slides_by_path_then_name(tmp_path: Path) -> None:
    viewer = ViewerModel()
    first = _slide_layer(viewer, tmp_path / "a.svs")
    (tmp_path / "elsewhere").mkdir()
    second = _slide_layer(viewer, tmp_path / "elsewhere" / "a.svs")
    exact = find_slide(viewer.layers, str(tmp_path / "a.svs"))
    assert exact is not None and exact.layer is first
    by_name = find_slide(viewer.layers, "/other/machine/a.svs")
    assert by_name is not None and by_name.layer is second  # the newest slide of that name
    assert find_slide(viewer.layers, "b.svs") is None
    assert slide_ref_of(viewer.add_points(np.zeros((1, 2)))) is None


def test_results_land_on_the_submitted_slide_and_reach_review(
        session: FakeSession, pool: WorkerPool, qtbot: Any, tmp_path: Path) -> None:
    viewer = ViewerModel()
    folder = tmp_path / "item"
    folder.mkdir()
    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 500, (80, 2))
    polygons = [shapely.box(x, y, x + 8, y + 8) for x, y in corners]
    classes = ["A", "B"] * 40
    artifact = write_geojson(folder, "cell_classification:geojson_polygons", polygons, classes,
                             {"A": (255, 0, 0), "B": (0, 0, 255)},
                             [{"confidence": 0.9}] * 80, object_type="cell", polygon_mpp=0.25)
    # the slide was submitted in this session and is no longer open: its reference still places
    # the results (2 polygon pixels per slide pixel: 0.25 / 0.5)
    ref = SlideRef(tmp_path / "gone.svs", (4000, 3000), 0.5, "AAAAAA==")
    session.run_slides["run-1"] = {ref.external_id: ref}
    review = ReviewPanel(viewer)
    qtbot.addWidget(review)
    loader = ResultsLoader(viewer, session, pool)
    loader.cells_shown.connect(review.show_results)
    loaded: list[str] = []
    loader.item_loaded.connect(lambda run_id, external_id: loaded.append(external_id))
    loader.load_item("run-1", ref.external_id, folder, {artifact.path.name: artifact.metadata})
    qtbot.waitUntil(lambda: bool(loaded), timeout=20_000)

    assert isinstance(review.raster, ClassImage) and isinstance(review.centroids, Points)
    assert isinstance(review.outlines, Image)
    assert review.review is not None and len(review.review.table) == 80
    assert review.centroids in viewer.layers
    assert tuple(review.centroids.scale) == (0.5, 0.5)
    assert review.raster.data[0].shape == (3000, 4000, 4)  # the overview spans the reference's size
    centroid = to_data(review.review.table.centroids)[:, ::-1].mean(axis=0)  # (x, y) slide px
    assert np.allclose(centroid, (corners + 4).mean(axis=0) / 2, atol=0.5)
    review.set_class_visible("A", False)
    assert int(review.review.shown().sum()) == 40  # the display (overview, cells in view) follows


@pytest.mark.slow
@pytest.mark.server(builtin=True)
def test_the_session_keeps_what_it_submitted(server: Any, cmu_slide: Path,
                                             tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from napari_aignostics.workflow.schema_form import build_metadata

    monkeypatch.setenv("NAPARI_AIGNOSTICS_CONFIG", str(tmp_path / "config"))
    session = Session()
    session.connect_remote(server.api_root, server.token)
    assert session.client is not None
    sent: list[str] = []
    session.client.http.event_hooks["request"].append(lambda r: sent.append(r.url.path))
    try:
        prepared = session.prepare_slide(cmu_slide)
        ref = prepared.ref()
        metadata = build_metadata(technical_input_schema(), prepared.as_artifact_metadata(), {})
        version = session.versions("test-app")[0]
        session.version("test-app", version)  # the Submit tab's form
        run_id = session.submit("test-app", version, [(ref, metadata)])
        # what the session fetched is not fetched again by the submission
        assert "/api/v1/me" not in sent
        assert sent.count(f"/api/v1/applications/test-app/versions/{version}") == 1
        (item,) = session.items(run_id)
        assert session.slide_of(run_id, item.external_id) is ref
        assert (ref.size, ref.mpp) == ((2220, 2967), pytest.approx(0.499, abs=1e-3))
        assert session.slide_of(run_id, "another.svs") is None
        session.cancel(run_id)
    finally:
        session.close()
