"""Shared fixtures: paths to ../shared, the one real local platform fixture (``server``)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from napari_aignostics.server.embedded import LocalPlatform

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NAPARI_AIGNOSTICS_SHARED", REPO.parent / "shared"))
TEST_DATA = SHARED / "test_data"
SPEC_PATH = SHARED / "spec" / "aignostics-platform-api-openapi-1.8.0.json"

# napari settings of this test session (the plugin records its reader preference there), never the user's
os.environ.setdefault(
    "NAPARI_CONFIG", str(Path(tempfile.mkdtemp(prefix="napari-aignostics-tests-")) / "settings.yaml")
)

ANALYSIS_FIXTURES = {"tme", "tme_folder"}
"""Fixtures that run the whole local-tme analysis on a real slide: their tests are the slow tier."""


def pytest_configure(config: pytest.Config) -> None:
    """The ``server`` marker (settings of the ``server`` fixture)."""
    config.addinivalue_line(
        "markers", "server(**settings): LocalPlatform settings of the test's `server` fixture"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tiers: ``-m "not slow and not gui"`` is the fast one (see README)."""
    for item in items:
        if ANALYSIS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)

@pytest.fixture(scope="session")
def test_data() -> Path:
    """``../shared/test_data``; tests that need it skip cleanly when it is absent."""
    if not TEST_DATA.is_dir():
        pytest.skip("shared test data not available")
    return TEST_DATA


@pytest.fixture(scope="session")
def wsi_dir(test_data: Path) -> Path:
    """The real slides."""
    path = test_data / "wsi"
    if not path.is_dir():
        pytest.skip("shared slides not available")
    return path


@pytest.fixture(scope="session")
def cmu_slide(wsi_dir: Path) -> Path:
    """CMU-1-Small-Region.svs: a real single-level H&E Aperio slide, 2220 x 2967 px, 0.499 µm/px."""
    return wsi_dir / "CMU-1-Small-Region.svs"


@pytest.fixture(scope="session")
def openapi_spec() -> dict[str, Any]:
    """The published API contract."""
    if not SPEC_PATH.is_file():
        pytest.skip("published OpenAPI spec not available")
    import json

    return json.loads(SPEC_PATH.read_text())


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalPlatform]:
    """The real local platform on a free loopback port: token ``tok``, the lifecycle test application.

    A module's ``SERVER`` dict, then a test's ``@pytest.mark.server(...)``, override these
    ``LocalPlatform`` settings (``builtin=True`` adds the built-in applications).
    """
    from napari_aignostics.server.embedded import LocalPlatform
    from server_helpers import LIFECYCLE_APP

    settings: dict[str, Any] = {"token": "tok", "applications": [LIFECYCLE_APP], "builtin": False}
    settings.update(getattr(request.module, "SERVER", {}))
    marker = request.node.get_closest_marker("server")
    if marker is not None:
        settings.update(marker.kwargs)
    with LocalPlatform(tmp_path / "platform", **settings) as platform:
        yield platform


@pytest.fixture(scope="session")
def sample_slide() -> Path:
    """The generated 20000 x 16000 H&E-like sample slide (made once into the user cache)."""
    from napari_aignostics.slides.sample import sample_slide_path

    return sample_slide_path()
