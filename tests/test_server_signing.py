"""Signed file URLs: many signed at once verify like one, and still expire."""

from __future__ import annotations

import pytest

from napari_aignostics.server.signing import SignatureError, path_signer, sign_path, verify_path


def test_many_paths_signed_at_once_verify_and_expire() -> None:
    sign = path_signer("secret", 60, now=1000.0)
    url = sign("/files/artifacts/r/a")
    assert url == sign_path("secret", "/files/artifacts/r/a", 60, now=1000.0)
    path, _, query = url.partition("?")
    params = dict(part.split("=") for part in query.split("&"))
    with pytest.raises(SignatureError, match="expired"):
        verify_path("secret", path, params["expires"], params["signature"])
    fresh = path_signer("secret", 60)("/files/artifacts/r/b")
    path, _, query = fresh.partition("?")
    params = dict(part.split("=") for part in query.split("&"))
    verify_path("secret", path, params["expires"], params["signature"])
    with pytest.raises(SignatureError, match="does not match"):
        verify_path("secret", "/files/artifacts/r/a", params["expires"], params["signature"])
