"""The settings that point the official Aignostics SDK and CLI at a local platform.

The SDK knows the login endpoints of the cloud environments only; for any other API root it needs
all of them, which this file lists (``AIGNOSTICS_ENV_FILE=<data dir>/aignostics.env``). They
hold no secret: the client ids are public, as they are in the cloud.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..platform.auth import LOCAL_AUDIENCE

__all__ = ["ENV_FILE", "LOCAL_CLIENT_ID", "sdk_environment", "write_sdk_env"]

ENV_FILE = "aignostics.env"
LOCAL_CLIENT_ID = "napari-aignostics-local"


def sdk_environment(api_root: str) -> dict[str, str]:
    """``AIGNOSTICS_*`` variables for a platform served at ``api_root``."""
    root = api_root.rstrip("/")
    return {
        "AIGNOSTICS_API_ROOT": root,
        "AIGNOSTICS_AUDIENCE": LOCAL_AUDIENCE,
        "AIGNOSTICS_AUTHORIZATION_BASE_URL": f"{root}/authorize",
        "AIGNOSTICS_TOKEN_URL": f"{root}/oauth/token",
        "AIGNOSTICS_DEVICE_URL": f"{root}/oauth/device/code",
        "AIGNOSTICS_JWS_JSON_URL": f"{root}/.well-known/jwks.json",
        "AIGNOSTICS_REDIRECT_URI": "http://localhost:8989/",
        "AIGNOSTICS_CLIENT_ID_INTERACTIVE": LOCAL_CLIENT_ID,
        "AIGNOSTICS_CLIENT_ID_DEVICE": LOCAL_CLIENT_ID,
    }


def write_sdk_env(data_dir: Path, api_root: str) -> Path:
    """Write ``<data_dir>/aignostics.env`` (replaced atomically); returns its path."""
    path = data_dir / ENV_FILE
    tmp = path.with_name(f".{ENV_FILE}.tmp")
    text = "".join(f"{key}={value}\n" for key, value in sdk_environment(api_root).items())
    tmp.write_text(text)
    os.replace(tmp, path)
    return path
