"""RS256 JWT access tokens like the real platform's identity provider issues, and their JWKS.

The key pair is generated on the first start and kept in the data directory (mode 0600); the
public half is published at ``/.well-known/jwks.json`` so that clients (the official SDK verifies
every new token) can check signatures, issuer and audience.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from ..platform.auth import LOCAL_AUDIENCE
from .settings import ServerSettings
from .store.rows import UserRow

__all__ = ["ALGORITHM", "KEY_FILE", "TokenSigner", "looks_like_jwt"]

ALGORITHM = "RS256"
KEY_FILE = "jwt-signing-key.pem"
DEFAULT_SCOPE = "openid profile email offline_access"


def looks_like_jwt(token: str) -> bool:
    """Three base64url segments (header.payload.signature), unlike the opaque local tokens."""
    return token.count(".") == 2 and token.startswith("eyJ")


def _load_or_create_key(path: Path) -> rsa.RSAPrivateKey:
    if path.is_file():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(
                f"{path} does not hold an RSA private key; delete it to make a new one"
            )
        return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


VERIFIED_CACHE = 4096
"""Verified tokens remembered at most (the cache starts over when full)."""


class TokenSigner:
    """Issues and verifies the local platform's access tokens."""

    def __init__(self, settings: ServerSettings, audience: str = LOCAL_AUDIENCE) -> None:
        self._key = _load_or_create_key(settings.data_dir / KEY_FILE)
        self._settings = settings
        self.audience = audience
        public = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        self.kid = _thumbprint(public)
        self._jwk = {**public, "kid": self.kid, "use": "sig", "alg": ALGORITHM}
        self._public_key = self._key.public_key()
        self._verified: dict[bytes, tuple[str, float]] = {}
        """SHA-256 of a token that verified: its ``sub`` and ``exp`` (a poll skips the RSA check)."""

    @property
    def issuer(self) -> str:
        """``http://127.0.0.1:PORT/``: scheme and host of the authorize URL, as the SDK expects."""
        return self._settings.public_url.rstrip("/") + "/"

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public key set."""
        return {"keys": [dict(self._jwk)]}

    def issue(
        self,
        user: UserRow,
        *,
        client_id: str | None,
        ttl_s: int,
        scope: str | None = None,
    ) -> str:
        """A signed access token for a user of the store."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": user.id,
            "aud": [self.audience, f"{self.issuer}userinfo"],
            "iat": now,
            "exp": now + ttl_s,
            "azp": client_id or "local",
            "scope": scope or DEFAULT_SCOPE,
            "org_id": user.org_id,
            f"{self.audience}/role": user.role,
            "jti": secrets.token_hex(12),
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.kid})

    def subject(self, token: str) -> str | None:
        """The ``sub`` of a token this platform signed and that is still valid, else None.

        A verified token is remembered by its SHA-256 until its ``exp`` (the key and the issuer
        of a running platform never change, so a second verification could only say the same).
        """
        digest = hashlib.sha256(token.encode()).digest()
        known = self._verified.get(digest)
        if known is not None and time.time() < known[1]:
            return known[0]
        try:
            claims = jwt.decode(
                token,
                self._public_key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError:
            return None
        sub, exp = claims.get("sub"), claims.get("exp")
        if not isinstance(sub, str):
            return None
        if isinstance(exp, int | float):
            if len(self._verified) >= VERIFIED_CACHE:
                self._verified.clear()
            self._verified[digest] = (sub, float(exp))
        return sub


def _thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 thumbprint of an RSA public JWK."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
