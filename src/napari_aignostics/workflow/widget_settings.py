"""The dock widget's remembered choices (never a token): a small JSON file in the user config dir."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path


def settings_path() -> Path:
    """``NAPARI_AIGNOSTICS_CONFIG`` or the user config dir."""
    import platformdirs

    root = os.environ.get("NAPARI_AIGNOSTICS_CONFIG") or platformdirs.user_config_dir(
        "napari-aignostics"
    )
    return Path(root) / "settings.json"


@dataclass
class WidgetSettings:
    """Last connection and submission choices."""

    mode: str = "local"
    """``local`` (the embedded platform) or ``remote``."""
    api_root: str = "https://platform.aignostics.com"
    application_id: str = ""
    results_dir: str = ""
    poll_interval_s: float = 5.0
    follow_patience_s: float = 600.0
    """Seconds a followed run keeps reconnecting to a platform that does not answer."""
    form_values: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> WidgetSettings:
        """Read the settings; missing or damaged files give the defaults."""
        path = path or settings_path()
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls()
        known = {
            k: v for k, v in data.items() if k in cls.__dataclass_fields__ and "token" not in k
        }
        try:
            return cls(**known)
        except TypeError:
            return cls()

    def save(self, path: Path | None = None) -> None:
        """Write atomically (temp file + rename)."""
        path = path or settings_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        os.replace(tmp, path)
