"""Verified access tokens are remembered only until they expire, and only when they verified."""

from __future__ import annotations

import time
from pathlib import Path

import jwt

from napari_aignostics.server.access_tokens import TokenSigner
from napari_aignostics.server.settings import ServerSettings
from napari_aignostics.server.store.rows import UserRow

USER = UserRow("auth0|someone", "org", None, None, "member")


def test_a_remembered_token_is_refused_once_it_expires(tmp_path: Path) -> None:
    signer = TokenSigner(ServerSettings(data_dir=tmp_path))
    token = signer.issue(USER, client_id="x", ttl_s=2)
    assert signer.subject(token) == USER.id
    assert signer.subject(token) == USER.id  # from the cache
    time.sleep(max(0.0, jwt.decode(token, options={"verify_signature": False})["exp"]
                   - time.time()) + 0.05)
    assert signer.subject(token) is None


def test_a_tampered_token_is_not_taken_for_a_remembered_one(tmp_path: Path) -> None:
    signer = TokenSigner(ServerSettings(data_dir=tmp_path))
    token = signer.issue(USER, client_id="x", ttl_s=60)
    assert signer.subject(token) == USER.id
    header, claims, signature = token.split(".")
    tampered = f"{header}.{claims}.{signature[:-4]}AAAA"
    assert signer.subject(tampered) is None
    (tmp_path / "other").mkdir()
    other = TokenSigner(ServerSettings(data_dir=tmp_path / "other"))
    assert other.subject(token) is None  # another platform's key
