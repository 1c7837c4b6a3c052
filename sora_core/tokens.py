"""Bearer tokens: generated once, shown once, stored only as a sha256 digest.

A token is ``sora_`` and 43 URL-safe characters (256 random bits). With that much entropy a fast hash
cannot be brute-forced, so a server keeps only the digest, and a stolen digest file reveals no usable
token. Used by the particle registry (upload tokens) and by ``sora serve`` (API tokens).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sora_core.errors import SoraError

__all__ = ["PREFIX", "NewToken", "bearer_secret", "digest", "generate", "is_digest", "matches"]

PREFIX = "sora_"
_TOKEN = re.compile(r"^sora_[A-Za-z0-9_-]{43}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class NewToken:
    """A freshly generated token: ``secret`` is shown to the user once, ``digest`` is stored."""

    token_id: str
    secret: str
    digest: str


def generate() -> NewToken:
    """A new random token, its digest and a short random id (for listing and revoking)."""
    secret = PREFIX + secrets.token_urlsafe(32)
    return NewToken(token_id=secrets.token_hex(6), secret=secret, digest=digest(secret))


def digest(secret: str) -> str:
    """The hex sha256 of a token: what a server stores and compares."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def is_digest(text: str) -> bool:
    """Whether ``text`` is a stored digest: 64 lowercase hex digits."""
    return bool(_DIGEST.match(text))


def matches(secret: str, digests: Iterable[str]) -> bool:
    """Whether ``secret``'s digest is one of ``digests``, each compared in constant time."""
    wanted = digest(secret)
    found = False
    for stored in digests:
        found |= hmac.compare_digest(wanted, stored)
    return found


def bearer_secret(authorization: str | None, *, error: type[SoraError], hint: str, needed_for: str = "requests") -> str:
    """The token in an ``Authorization: Bearer`` header; raise ``error(message, hint)`` when it is absent or
    malformed (``needed_for`` names what needs one, in the message of a missing header)."""
    if not authorization:
        raise error(f"missing Authorization header: {needed_for} need a token", hint)
    scheme, _, secret = authorization.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise error("Authorization header is not `Bearer <token>`", hint)
    if not _TOKEN.match(secret):
        raise error("the token in the Authorization header is malformed", hint)
    return secret
