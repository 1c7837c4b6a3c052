"""Upload tokens: generated once, shown once, stored only as a hash.

A token is ``sora_`` and 43 URL-safe characters (256 random bits). The catalog keeps its
sha256: with that much entropy a fast hash cannot be brute-forced, and a stolen catalog
reveals no usable token. Each token also has a short random id, for listing and revoking.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sora_registry.errors import AuthenticationError

PREFIX = "sora_"
_TOKEN = re.compile(r"^sora_[A-Za-z0-9_-]{43}$")
_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_AUTH_HINT = (
    "send `Authorization: Bearer <token>` with a token the registry's administrator creates with "
    "`sora-registry token create --data DIR --user NAME`"
)


@dataclass(frozen=True)
class NewToken:
    """A freshly generated token: ``secret`` is shown to the user once, ``digest`` is stored."""

    token_id: str
    secret: str
    digest: str


@dataclass(frozen=True)
class TokenRecord:
    """A stored token, as listed: never the secret."""

    token_id: str
    user: str
    label: str
    created: str
    last_used: str | None
    revoked: str | None


def generate() -> NewToken:
    secret = PREFIX + secrets.token_urlsafe(32)
    return NewToken(token_id=secrets.token_hex(6), secret=secret, digest=digest(secret))


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def validate_user(user: str) -> str:
    """Return ``user`` if it is a valid user name, else raise ``ValueError`` saying what is allowed."""
    if not _USER.match(user or ""):
        raise ValueError(
            f"user name {user!r} is invalid: use 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return user


def bearer_secret(authorization: str | None) -> str:
    """The token in an ``Authorization: Bearer`` header; raise ``AuthenticationError`` when absent or malformed."""
    if not authorization:
        raise AuthenticationError("missing Authorization header: uploads need a token", _AUTH_HINT)
    scheme, _, secret = authorization.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise AuthenticationError("Authorization header is not `Bearer <token>`", _AUTH_HINT)
    if not _TOKEN.match(secret):
        raise AuthenticationError("the token in the Authorization header is malformed", _AUTH_HINT)
    return secret


def unknown_token_error() -> AuthenticationError:
    return AuthenticationError(
        "the token in the Authorization header is unknown or revoked",
        "ask the registry's administrator for a new token (`sora-registry token create --data DIR --user NAME`)",
    )
