"""Settings of the local platform: where it keeps data, limits, quotas and timings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LOCAL_ORG_ID", "LOCAL_USER_ID", "ServerSettings", "default_data_dir"]

LOCAL_USER_ID = "auth0|local-user"
LOCAL_ORG_ID = "org_local"


def default_data_dir() -> Path:
    """``<user data dir>/napari-aignostics/local-platform``."""
    import platformdirs

    return Path(platformdirs.user_data_dir("napari-aignostics")) / "local-platform"


@dataclass
class ServerSettings:
    """Everything configurable about one local platform instance."""

    data_dir: Path = field(default_factory=default_data_dir)
    token: str | None = None
    """Pinned bearer token of the local user (else one is generated on first start)."""
    public_url: str = "http://127.0.0.1:8000"
    """The root clients reach this server at; signed URLs and the bucket endpoint use it."""
    worker_threads: int = 2
    """Items analysed at the same time (across all runs); 0 holds every run in the queue."""
    item_threads: int = 2
    """Threads one item's analysis uses (its nuclei tiles run in parallel)."""
    item_processes: int = 0
    """Worker processes for one item's nuclei tiles (0: threads only; cluster workers use threads)."""
    items_per_run_parallel: int = 2
    """Items of one run analysed at the same time."""
    max_items_per_run: int = 500
    max_metadata_bytes: int = 64 * 1024
    failed_items_threshold: int = 10
    """Failed items (user or system errors) after which the system cancels the run."""
    retention_days: float = 30.0
    """Output artifacts are deleted this long after the run terminated (DELETED_BY_SYSTEM)."""
    signed_url_ttl_s: int = 15 * 60
    max_attempts: int = 2
    """How often an item interrupted by a crash is tried before it ends as SYSTEM_ERROR."""
    quota_slides_per_run: int = 500
    quota_slides_per_month: int = 100_000
    quota_parallel_runs: int = 50
    quota_object_bytes: int | None = None
    """Largest bucket object of the local organization (None: ``max_upload_bytes``)."""
    refresh_token_ttl_s: float = 30 * 24 * 3600
    """A refresh token expires after this long; each is used once (the answer carries a new one)."""
    browser_session_ttl_s: float = 12 * 3600
    """How long a browser signed in at ``/device`` with a one-time secret may approve logins."""
    sign_in_secret_ttl_s: float = 24 * 3600
    """How long a one-time sign-in secret (printed by ``serve``) stays usable."""
    max_body_bytes: int = 32 * 1024**2
    """Largest request body of the API (a 500-item run is well under 1 MiB)."""
    max_form_bytes: int = 16 * 1024
    """Largest body of the OAuth and ``/device`` forms."""
    auto_approve_device: bool = False
    """Approve logins (device codes and /authorize requests) for the local user without asking
    (tests, demos)."""
    scheduler_interval_s: float = 0.2
    maintenance_interval_s: float = 60.0
    """Seconds between retention-expiry sweeps."""
    max_upload_bytes: int = 50 * 1024**3
