"""The dock widget's Qt-free session: connection, applications, slides, submission, runs, results.

Every method may block (network, disk): the widget calls them from thread workers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..slides.metadata import SlideMetadata, slide_metadata
from ..slides.slide_ref import SlideRef
from .widget_settings import WidgetSettings

if TYPE_CHECKING:
    from ..platform import models as m
    from ..platform.auth import TokenProvider
    from ..platform.client import PlatformClient
    from ..platform.follow import Event as FollowEvent
    from ..platform.sharing import Share
    from ..server.embedded import LocalPlatform

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class ConnectionInfo:
    """Who and where the session is connected to."""

    api_root: str
    local: bool
    user: str
    organization: str
    healthy: bool


class Session:
    """One connection to a platform (the embedded local one, or a remote API root)."""

    def __init__(
        self, settings: WidgetSettings | None = None, local_data_dir: Path | None = None
    ) -> None:
        self.settings = settings or WidgetSettings.load()
        self.local_data_dir = local_data_dir
        self.client: PlatformClient | None = None
        self.local: LocalPlatform | None = None
        self.info: ConnectionInfo | None = None
        self.run_slides: dict[str, dict[str, SlideRef]] = {}
        """The slides submitted in this session, by run id and external id."""
        self.me: m.MeReadResponse | None = None
        """``/v1/me`` as fetched on connecting (the organization's bucket comes from it)."""
        self._versions: dict[tuple[str, str], m.VersionReadResponse] = {}
        """Version details fetched over this connection (forgotten on reconnect)."""
        self._lock = threading.Lock()

    # --- connection ------------------------------------------------------------------------

    def connect_local(self) -> ConnectionInfo:
        """Start the embedded local platform (once) and connect to it with its token."""
        from ..server.embedded import LocalPlatform

        with self._lock:
            if self.local is None:
                platform = LocalPlatform(data_dir=self.local_data_dir)
                platform.start()
                self.local = platform
            local = self.local
        return self._connect(local.api_root, local.token, local=True)

    def connect_remote(self, api_root: str, token: str | TokenProvider) -> ConnectionInfo:
        """Connect to ``api_root`` with a token string or a token provider (e.g. device login)."""
        return self._connect(api_root.rstrip("/"), token, local=False)

    @staticmethod
    def login(api_root: str, on_code: Callable[[str, str], None]) -> None:
        """OAuth device login for ``api_root``; the tokens go to the 0600 token cache.

        ``on_code(link, user_code)`` receives what the user confirms in a browser.
        """
        from ..platform.auth import AuthSettings, TokenCache, device_login

        tokens = device_login(AuthSettings.for_api_root(api_root), on_code=on_code)
        TokenCache().save(api_root.rstrip("/"), tokens)

    def _connect(self, api_root: str, token: str | TokenProvider, local: bool) -> ConnectionInfo:
        from ..platform.client import PlatformClient

        client = PlatformClient(api_root, token)
        try:
            me = client.me()
        except Exception:
            client.close()
            raise
        if self.client is not None:
            self.client.close()
        self.client = client
        self.me = me
        self._versions = {}
        user = me.user.email or me.user.name or me.user.id
        organization = me.organization.display_name or me.organization.name or me.organization.id
        self.info = ConnectionInfo(api_root, local, str(user), str(organization), True)
        self.settings.mode = "local" if local else "remote"
        if not local:
            self.settings.api_root = api_root
        self.settings.save()
        return self.info

    def require_client(self) -> PlatformClient:
        """The connected client, or a clear error."""
        if self.client is None:
            raise RuntimeError(
                "Not connected: choose the local platform or an API root and press Connect."
            )
        return self.client

    def close(self) -> None:
        """Close the client and stop the local platform if this session started it."""
        if self.client is not None:
            self.client.close()
            self.client = None
        self.me = None
        self._versions = {}
        if self.local is not None:
            self.local.stop()
            self.local = None

    # --- applications ----------------------------------------------------------------------

    def applications(self) -> list[m.ApplicationReadShortResponse]:
        """Applications available to the user."""
        return list(self.require_client().list_applications())

    def versions(self, application_id: str) -> list[str]:
        """Version numbers of an application, newest first."""
        from ..platform.versions import semver_key

        app = self.require_client().application(application_id)
        return sorted((v.number for v in app.versions), key=semver_key, reverse=True)

    def version(self, application_id: str, version: str) -> m.VersionReadResponse:
        """A version's details: input and output artifacts with schemas, changelog.

        Fetched once per connection: the Submit tab's form and the submission share it.
        """
        key = (application_id, version)
        if key not in self._versions:
            self._versions[key] = self.require_client().application_version(*key)
        return self._versions[key]

    # --- slides ------------------------------------------------------------------------------

    @staticmethod
    def prepare_slide(path: Path) -> SlideMetadata:
        """Dimensions, mpp, media type and CRC32C of a slide (slow for big files)."""
        return slide_metadata(path)

    # --- runs --------------------------------------------------------------------------------

    def runs(self, limit: int = 50) -> list[m.RunReadResponse]:
        """The user's latest runs, newest first."""
        return list(self.require_client().list_runs(sort=["-submitted_at"], limit=limit))

    def items(self, run_id: str) -> list[m.ItemResultReadResponse]:
        """Items of a run with their state and error."""
        return list(self.require_client().list_items(run_id))

    def cancel(self, run_id: str) -> None:
        """Cancel a run."""
        self.require_client().cancel_run(run_id)

    def delete_results(self, run_id: str) -> None:
        """Delete a terminated run's result artifacts on the platform."""
        self.require_client().delete_artifacts(run_id)

    # --- sharing -------------------------------------------------------------------------------

    def shares(self, run_id: str) -> list[Share]:
        """Who can view a run besides its owner (users, organizations, share tokens)."""
        from ..platform.sharing import run_shares

        return run_shares(self.require_client(), run_id)

    def share_with(self, run_id: str, who: str) -> None:
        """Grant viewer access to a user, by e-mail address (with ``@``) or user id."""
        from ..platform.sharing import grant_viewer

        who = who.strip()
        if "@" in who:
            grant_viewer(self.require_client(), run_id, email=who)
        else:
            grant_viewer(self.require_client(), run_id, user_id=who or None)

    def create_share_token(self, run_id: str) -> str:
        """A new share token with viewer access to the run (its secret, shown only once)."""
        from ..platform.sharing import share_token_for_run

        return share_token_for_run(self.require_client(), run_id).share_token

    def revoke_share(self, share: Share) -> None:
        """Stop one share of a run."""
        from ..platform.sharing import revoke_share

        revoke_share(self.require_client(), share)

    def results_root(self) -> Path:
        """Where downloaded results go."""
        if self.settings.results_dir:
            return Path(self.settings.results_dir)
        import platformdirs

        return Path(platformdirs.user_data_dir("napari-aignostics")) / "results"

    def submit(
        self,
        application_id: str,
        version: str,
        slides: Sequence[tuple[SlideRef, dict[str, Any]]],
        note: str = "",
        tags: Sequence[str] = (),
        progress: Progress | None = None,
    ) -> str:
        """Upload the slides to the organization's bucket and submit one run; return its id.

        ``slides`` pairs each slide with its complete input metadata (technical keys and form
        values); the session keeps the references for the run's results (:meth:`slide_of`).
        """
        from ..platform.submit import submit_slides

        run_id = submit_slides(
            self.require_client(),
            application_id,
            version,
            [(ref.path, metadata) for ref, metadata in slides],
            note=note or None,
            tags=list(tags),
            progress=progress,
            spec=self.version(application_id, version),
            organization=None if self.me is None else self.me.organization,
        )
        self.run_slides[run_id] = {ref.external_id: ref for ref, _ in slides}
        return run_id

    def slide_of(self, run_id: str, external_id: str) -> SlideRef | None:
        """The slide this session submitted as ``external_id`` in ``run_id`` (None if another did)."""
        return self.run_slides.get(run_id, {}).get(external_id)

    def follow(self, run_id: str, interval: float | None = None) -> Iterator[FollowEvent]:
        """Progress events of a run while items finish and are downloaded into :meth:`results_root`."""
        from ..platform.follow import follow_run

        yield from follow_run(
            self.require_client(),
            run_id,
            self.results_root(),
            interval=interval if interval is not None else self.settings.poll_interval_s,
            patience=self.settings.follow_patience_s,
        )

    def download(self, run_id: str) -> Path:
        """Download a run's available results (verified) into :meth:`results_root`; the run folder."""
        from ..platform.download import download_run
        from ..platform.results_layout import run_folder

        download_run(self.require_client(), run_id, self.results_root())
        return run_folder(self.results_root(), run_id)
