"""A small lifecycle application and helpers for the server tests (real server, raw HTTP)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from napari_aignostics.apps.base import (
    AnalysisCancelled,
    AnalysisContext,
    ApplicationSpec,
    ProducedArtifact,
    UserInputError,
    VersionSpec,
)
from napari_aignostics.slides.checksum import crc32c_base64_bytes

INPUT_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": False,
    "required": ["checksum_base64_crc32c"],
    "properties": {
        "checksum_base64_crc32c": {"type": "string"},
        "behaviour": {"type": "string"},
        "width_px": {"type": "integer", "minimum": 1},
    },
}


def _run(ctx: AnalysisContext) -> list[ProducedArtifact]:
    behaviour = str(ctx.input_metadata.get("behaviour", "ok"))
    if behaviour == "fail_user":
        raise UserInputError(f"{ctx.slide_path.name}: told to fail", "INPUT.TOLD_TO_FAIL")
    if behaviour == "fail_system":
        raise RuntimeError("told to crash")
    if behaviour.startswith("sleep:"):
        deadline = time.monotonic() + float(behaviour.split(":")[1])
        while time.monotonic() < deadline:
            if ctx.cancelled():
                raise AnalysisCancelled()
            time.sleep(0.05)
    data = ctx.slide_path.read_bytes()
    out = ctx.output_dir / "summary.json"
    out.write_text(json.dumps({"bytes": len(data), "name": ctx.slide_path.name}))
    return [
        ProducedArtifact(
            "lifecycle:summary",
            out,
            {"checksum_base64_crc32c": crc32c_base64_bytes(out.read_bytes()),
             "media_type": "application/json"},
        )
    ]


LIFECYCLE_APP = ApplicationSpec(
    application_id="lifecycle",
    name="Lifecycle test application",
    description="Counts input bytes; fails or sleeps when told to.",
    regulatory_classes=["RUO"],
    versions=[
        VersionSpec(
            version_number=v,
            changelog=f"lifecycle {v}",
            released_at=datetime(2025, 1, int(v[-1]) + 1, tzinfo=UTC),
            input_artifacts=[
                {"name": "whole_slide_image", "mime_type": "image/tiff",
                 "metadata_schema": INPUT_SCHEMA}
            ],
            output_artifacts=[
                {"name": "lifecycle:summary", "mime_type": "application/json",
                 "metadata_schema": {"type": "object"}, "scope": "ITEM", "visibility": "EXTERNAL"}
            ],
            run=_run,
            documents={"README.md": ("text/markdown", b"# Lifecycle\nA test application.\n")},
        )
        for v in ("1.0.0", "1.0.1")
    ],
)


def bucket_urls(api_root: str, me: dict[str, Any], key: str) -> tuple[str, str]:
    """Presigned PUT and GET URLs for the organization bucket, computed with botocore."""
    import botocore.session
    from botocore.config import Config

    org = me["organization"]
    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=f"{api_root}/bucket",
        region_name="us-east-1",
        aws_access_key_id=org["aignostics_bucket_hmac_access_key_id"],
        aws_secret_access_key=org["aignostics_bucket_hmac_secret_access_key"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    params = {"Bucket": org["aignostics_bucket_name"], "Key": key}
    put = client.generate_presigned_url("put_object", Params=params, ExpiresIn=3600)
    get = client.generate_presigned_url("get_object", Params=params, ExpiresIn=604800)
    return put, get


class Api:
    """Raw HTTP against the real local platform."""

    def __init__(self, api_root: str, token: str) -> None:
        self.root = api_root
        self.http = httpx.Client(
            base_url=f"{api_root}/api/v1", headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    def upload(self, data: bytes, name: str = "slide.tiff") -> str:
        """Put bytes into the bucket; the presigned GET URL."""
        me = self.http.get("/me").json()
        put, get = bucket_urls(self.root, me, f"tests/{time.time_ns()}/{name}")
        response = httpx.put(put, content=data)
        assert response.status_code == 200, response.text
        return get

    def submit(self, items: list[dict[str, Any]], app: str = "lifecycle", **extra: Any) -> str:
        """POST a run of ``[{external_id, data, metadata}]``; its id."""
        body = {
            "application_id": app,
            "items": [
                {
                    "external_id": item["external_id"],
                    "input_artifacts": [
                        {
                            "name": "whole_slide_image",
                            "download_url": self.upload(item["data"]),
                            "metadata": {
                                "checksum_base64_crc32c": crc32c_base64_bytes(item["data"]),
                                **item.get("metadata", {}),
                            },
                        }
                    ],
                }
                for item in items
            ],
            **extra,
        }
        response = self.http.post("/runs", json=body)
        assert response.status_code == 201, f"{response.status_code} {response.text}"
        return str(response.json()["run_id"])

    def wait(self, run_id: str, timeout: float = 60) -> dict[str, Any]:
        """Poll until the run is TERMINATED."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.http.get(f"/runs/{run_id}").json()
            if run["state"] == "TERMINATED":
                return dict(run)
            time.sleep(0.1)
        raise AssertionError(f"run {run_id} did not terminate: {run}")

    def items(self, run_id: str) -> list[dict[str, Any]]:
        """All items of a run."""
        return list(self.http.get(f"/runs/{run_id}/items", params={"page_size": 100}).json())


def slide_bytes(path: Path | None = None, size: int = 1000) -> bytes:
    """Bytes to upload: a real file or a deterministic blob."""
    return path.read_bytes() if path else bytes(range(256)) * (size // 256 + 1)


def wait_for(predicate: Callable[[], object], timeout: float = 30.0) -> None:
    """Poll ``predicate`` every 50 ms until it is true; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")
