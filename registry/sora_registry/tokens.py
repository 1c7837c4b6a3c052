"""Upload tokens: generated once, shown once, stored only as a hash.

The generic primitives (generating a token, its sha256 digest, reading an ``Authorization: Bearer``
header) are :mod:`sora_core.tokens`, shared with ``sora serve``; this module adds the registry's users,
stored records and messages. The catalog keeps each token's sha256, and each token has a short random id,
for listing and revoking.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sora_core import tokens as _tokens
from sora_core.tokens import PREFIX, NewToken, digest, generate
from sora_registry.errors import AuthenticationError

__all__ = [
    "PREFIX",
    "NewToken",
    "TokenRecord",
    "bearer_secret",
    "digest",
    "generate",
    "unknown_token_error",
    "validate_user",
]

_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_AUTH_HINT = (
    "send `Authorization: Bearer <token>` with a token the registry's administrator creates with "
    "`sora-registry token create --data DIR --user NAME`"
)


@dataclass(frozen=True)
class TokenRecord:
    """A stored token, as listed: never the secret."""

    token_id: str
    user: str
    label: str
    created: str
    last_used: str | None
    revoked: str | None


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
    return _tokens.bearer_secret(authorization, error=AuthenticationError, hint=_AUTH_HINT, needed_for="uploads")


def unknown_token_error() -> AuthenticationError:
    return AuthenticationError(
        "the token in the Authorization header is unknown or revoked",
        "ask the registry's administrator for a new token (`sora-registry token create --data DIR --user NAME`)",
    )
