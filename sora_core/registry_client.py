"""Talking to a particle registry (``sora-registry serve``): uploads, catalog search, and where the token lives.

The registry's address comes from ``--registry``, else ``$SORA_REGISTRY_URL``, else
``default-registry`` in the config file. The upload token comes from
``$SORA_REGISTRY_TOKEN``, else the config file, never from the command line (where it
would land in shell history and process listings). The config file is
``$SORA_CONFIG`` or ``$XDG_CONFIG_HOME/sora/config.toml`` (``~/.config/sora/config.toml``)::

    default-registry = "https://particles.example.org"

    [registries."https://particles.example.org"]
    token = "sora_..."

A config file that holds a token must be readable by its owner only (``chmod 600``).
Only the standard library's ``urllib`` is used.
"""

from __future__ import annotations

import os
import stat
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sora_core.errors import RegistryClientError
from sora_core.safe_json import load_json_bytes

__all__ = ["RegistryClient", "config_path", "registry_token", "registry_url"]

URL_ENV, TOKEN_ENV, CONFIG_ENV = "SORA_REGISTRY_URL", "SORA_REGISTRY_TOKEN", "SORA_CONFIG"
_TIMEOUT = 120.0
#: The most a registry's JSON answer may be: a catalog page is kilobytes; more is a broken or hostile server.
MAX_RESPONSE_BYTES = 32 * 2**20


def config_path() -> Path:
    """Where the config file is looked for (it need not exist)."""
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sora" / "config.toml"


def _config() -> dict[str, Any]:
    path = config_path()
    if not path.is_file():
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RegistryClientError(f"config file {path} is not valid TOML: {exc}", "fix or remove the file") from None
    return data


def registry_url(explicit: str | None = None) -> str:
    """The registry to talk to, without a trailing slash; raise naming the three places it may come from."""
    url = explicit or os.environ.get(URL_ENV) or _config().get("default-registry")
    if not url:
        raise RegistryClientError(
            "no registry given",
            f"pass --registry URL, set ${URL_ENV}, or set default-registry in {config_path()}",
        )
    parsed = urllib.parse.urlsplit(str(url))
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise RegistryClientError(f"registry URL {url!r} is not an http(s) URL", "use e.g. http://127.0.0.1:8417")
    return str(url).rstrip("/")


def registry_token(url: str) -> str:
    """The upload token for ``url``: ``$SORA_REGISTRY_TOKEN``, else the config file (owner-only readable)."""
    token = os.environ.get(TOKEN_ENV)
    if token:
        return token.strip()
    path = config_path()
    entry = _config().get("registries", {}).get(url) or _config().get("registries", {}).get(url + "/") or {}
    token = entry.get("token") if isinstance(entry, dict) else None
    if not token:
        raise RegistryClientError(
            f"no upload token for registry {url}",
            f'set ${TOKEN_ENV}, or add [registries."{url}"] token = "..." to {path} (chmod 600); '
            "the registry's admin creates tokens with `sora-registry token create --data DIR --user NAME`",
        )
    if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise RegistryClientError(
            f"config file {path} holds a registry token but other users can read it",
            f"run `chmod 600 {path}`",
        )
    return str(token).strip()


@dataclass
class RegistryClient:
    """A registry at ``url``; ``token`` is needed only to upload."""

    url: str
    token: str | None = None

    def upload(self, path: Path, sha256: str) -> dict[str, Any]:
        """PUT one distribution file; return the registry's JSON record of it."""
        if not self.token:
            raise RegistryClientError(f"uploading {path.name} to {self.url} needs a token", token_hint(self.url))
        size = path.stat().st_size
        headers = {
            "Authorization": f"Bearer {self.token}",
            "X-Content-SHA256": sha256,
            "Content-Length": str(size),
            "Content-Type": "application/octet-stream",
        }
        target = f"{self.url}/api/v1/files/{urllib.parse.quote(path.name)}"
        with path.open("rb") as body:
            return self._request("PUT", target, headers=headers, body=body, subject=path.name)

    def check_upload(self, project: str, version: str | None = None) -> dict[str, Any] | None:
        """Ask the registry whether this token may publish ``version`` of ``project``, before anything is built.

        One ``GET /api/v1/upload-check``: a bad token (401), a project owned by another user (403) or a version
        already published (409) is a :class:`RegistryClientError`. Returns the registry's answer (``user``,
        ``project``, ``version``, ``owners``), or ``None`` from a registry too old to have the check (the
        upload checks the same again).
        """
        if not self.token:
            raise RegistryClientError(f"publishing to {self.url} needs a token", token_hint(self.url))
        params = {"project": project, **({"version": version} if version else {})}
        target = f"{self.url}/api/v1/upload-check?{urllib.parse.urlencode(params)}"
        headers = {"Authorization": f"Bearer {self.token}"}
        subject = f"publishing {project} {version}" if version else f"publishing {project}"
        return self._request("GET", target, headers=headers, subject=subject, absent_ok=True)

    def search(
        self, query: str = "", *, kind: str | None = None, space: str | None = None, limit: int = 50
    ) -> dict[str, Any]:
        """The catalog's particles matching ``query`` (name, description, distribution), ``kind`` and ``space``."""
        params = {"q": query, "limit": str(limit)}
        params.update({k: v for k, v in (("kind", kind), ("space", space)) if v})
        return self._request("GET", f"{self.url}/api/v1/particles?{urllib.parse.urlencode(params)}", subject="search")

    def particle(self, distribution: str, name: str) -> dict[str, Any]:
        """One particle's full catalog record."""
        path = f"/api/v1/particles/{urllib.parse.quote(distribution)}/{urllib.parse.quote(name)}"
        return self._request("GET", self.url + path, subject=f"{distribution}:{name}")

    def simple_index(self) -> str:
        return f"{self.url}/simple/"

    def _request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
        subject: str,
        absent_ok: bool = False,
    ) -> Any:
        request = urllib.request.Request(url, data=body, method=method, headers={"Accept": "application/json"})
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
                return _json_object(response.read(MAX_RESPONSE_BYTES + 1), url)
        except urllib.error.HTTPError as exc:
            if absent_ok and exc.code in (404, 405):  # an older registry without this route
                return None
            raise _refusal(exc, subject, self.url) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RegistryClientError(
                f"cannot reach the registry at {self.url} ({reason})",
                "check the URL and that `sora-registry serve` is running there",
            ) from None


def _json_object(body: bytes, url: str) -> dict[str, Any]:
    """A registry's answer as a JSON object; anything else (too big, not JSON, too deep) is a client error."""
    hint = "is the URL a sora-registry (not the /simple index)?"
    if len(body) > MAX_RESPONSE_BYTES:
        raise RegistryClientError(f"{url} answered with more than {MAX_RESPONSE_BYTES} bytes", hint)
    data = load_json_bytes(body or b"{}", f"the answer of {url}", error=RegistryClientError, hint=hint)
    if not isinstance(data, dict):
        raise RegistryClientError(f"{url} did not answer with a JSON object", hint)
    return data


def _refusal(exc: urllib.error.HTTPError, subject: str, url: str) -> RegistryClientError:
    try:
        data = _json_object(exc.read(MAX_RESPONSE_BYTES + 1), url)
    except (OSError, RegistryClientError):
        data = {}
    message = str(data.get("error") or f"HTTP {exc.code} {exc.reason}")
    listed = data.get("problems")
    problems = [str(p) for p in listed] if isinstance(listed, list) else []
    detail = "".join(f"\n  - {p}" for p in problems)
    hint = data.get("hint")
    if exc.code == 401:  # the server's hint speaks HTTP; say where the token comes from and how to get one
        reason = message.replace("the token in the Authorization header", "it")
        return RegistryClientError(f"registry {url} does not accept the upload token: {reason}", token_hint(url))
    return RegistryClientError(
        f"registry {url} refused {subject} (HTTP {exc.code}): {message}{detail}", str(hint) if hint else None
    )


def token_hint(url: str) -> str:
    """How to get an upload token for ``url`` and where to put it."""
    source = f"${TOKEN_ENV}" if os.environ.get(TOKEN_ENV) else f"the config file {config_path()}"
    return (
        f"the token is read from {source}. Ask the registry's administrator for a token; on the registry's "
        "machine they run `sora-registry token create --data DIR --user NAME`. Then `export "
        f'{TOKEN_ENV}=sora_...`, or put token = "sora_..." under [registries."{url}"] in {config_path()} (chmod 600)'
    )
