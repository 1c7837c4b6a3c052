"""Optional bearer-token authentication of ``sora serve``: a token file holds sha256 digests, one a line.

``sora serve-token --token-file FILE`` makes a token, adds its digest to the file and prints the secret once;
``sora serve --token-file FILE`` (or ``SORA_SERVE_TOKEN_FILE``) then answers 401 to every request without
``Authorization: Bearer <token>`` of one of them, except ``/healthz`` and ``/openapi.json``.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sora_core import tokens
from sora_core.atomic import atomic_write_text
from sora_core.errors import ConfigError, SoraError
from sora_core.serve.problems import ServeError

#: Paths that answer without a token.
PUBLIC_PATHS = ("/healthz", "/openapi.json")
_HINT = "send `Authorization: Bearer <token>` with a token made by `sora serve-token --token-file FILE`"
#: Largest token file read (a digest is 65 bytes a line).
_MAX_FILE_BYTES = 1 << 20


def read_token_file(path: str | Path) -> frozenset[str]:
    """The digests of ``path``: one a line; blank lines and lines starting with ``#`` are skipped."""
    path = Path(path)
    hint = "make one with `sora serve-token --token-file FILE`"
    try:
        if path.stat().st_size > _MAX_FILE_BYTES:
            raise ConfigError(f"token file {path} is over 1 MiB", "keep one sha256 digest a line")
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"token file {path} does not exist", hint) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"token file {path} cannot be read: {exc}", hint) from None
    digests = set()
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if not tokens.is_digest(text):
            raise ConfigError(
                f"token file {path}, line {number}: not a sha256 digest (64 lowercase hex digits)",
                "the file holds digests, never the tokens themselves: " + hint,
            )
        digests.add(text)
    if not digests:
        raise ConfigError(f"token file {path} holds no token digest", hint)
    return frozenset(digests)


def add_token(path: str | Path) -> tokens.NewToken:
    """A new token whose digest is added to ``path`` (created if missing), written atomically."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"--token-file {path} is a directory", "name a file, e.g. --token-file tokens.txt")
    existing = ""
    if path.exists():
        if path.stat().st_size:
            read_token_file(path)  # refuse to add to a file that is not a token file
        existing = path.read_text(encoding="utf-8")
    if existing and not existing.endswith("\n"):
        existing += "\n"
    new = tokens.generate()
    if not path.parent.is_dir():
        raise ConfigError(f"--token-file {path}: {path.parent} does not exist", "create the folder first")
    atomic_write_text(path, existing + new.digest + "\n")
    return new


class BearerAuth:
    """ASGI middleware: 401 ``{"error", "field", "hint"}`` for a request without an accepted token."""

    def __init__(self, app: ASGIApp, digests: frozenset[str]) -> None:
        self.app = app
        self.digests = digests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization")
        try:
            secret = tokens.bearer_secret(
                header.decode("latin-1") if header is not None else None, error=SoraError, hint=_HINT
            )
            if not tokens.matches(secret, self.digests):
                raise SoraError("the token in the Authorization header is not accepted by this server", _HINT)
        except SoraError as exc:
            refusal = ServeError(401, exc.message, exc.hint, field="Authorization")
            response = JSONResponse(refusal.to_dict(), status_code=401, headers={"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
