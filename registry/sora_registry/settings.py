"""The server's settings and the layout of its data directory."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sora_core.zip_safety import DEFAULT_MAX_RATIO, DEFAULT_MAX_UNPACKED, ZipLimits
from sora_registry.errors import RegistryError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8417
DEFAULT_MAX_UPLOAD = 200 * 10**6
CATALOG_NAME = "catalog.sqlite3"

_PUBLIC_URL_HINT = (
    "give the URL people reach the registry at, e.g. https://registry.example.org or "
    "https://example.org/registry (http or https, a host, no query or fragment), with --public-url"
)
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Settings:
    """Where the registry keeps its data and what it accepts.

    ``DATA/catalog.sqlite3`` is the catalog, ``DATA/files/PROJECT/FILENAME`` the published files,
    ``DATA/tmp`` the uploads in flight (on the same filesystem, so publishing is a rename).
    """

    data_dir: Path
    max_upload_size: int = DEFAULT_MAX_UPLOAD
    #: The registry's address as clients reach it: install commands and index URLs on the pages are
    #: built from it, never from a request's ``Host`` header (which any client can set).
    public_url: str = ""
    #: What an uploaded archive may inflate to in all, and one member's largest compression ratio (zip bombs).
    max_unpacked_size: int = DEFAULT_MAX_UNPACKED
    max_compression_ratio: int = DEFAULT_MAX_RATIO

    @property
    def archive_limits(self) -> ZipLimits:
        return ZipLimits(max_unpacked=self.max_unpacked_size, max_ratio=self.max_compression_ratio)

    def __post_init__(self) -> None:
        url = self.public_url or default_public_url(DEFAULT_HOST, DEFAULT_PORT)
        object.__setattr__(self, "public_url", check_public_url(url))

    @property
    def index_url(self) -> str:
        """The simple index's URL (what ``pip install --index-url`` takes)."""
        return f"{self.public_url}/simple/"

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / CATALOG_NAME

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def staging_dir(self) -> Path:
        return self.data_dir / "tmp"


def default_public_url(host: str, port: int) -> str:
    """``http://HOST:PORT`` of the bind address (IPv6 hosts in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def check_public_url(text: str) -> str:
    """``text`` without its trailing ``/`` if it is an http(s) URL with a host and no query or fragment.

    Raises ``RegistryError`` naming what is wrong.
    """
    problem = _public_url_problem(text)
    if problem:
        raise RegistryError(f"public URL {text!r} {problem}", _PUBLIC_URL_HINT)
    return text.rstrip("/")


def _public_url_problem(text: str) -> str | None:
    if not text.isascii() or not text.isprintable() or any(c.isspace() for c in text):
        return "holds spaces, control or non-ASCII characters (write an IDN host in its xn-- form)"
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        return "has an invalid port"
    if parts.scheme not in ("http", "https"):
        return "must start with http:// or https://"
    if not parts.hostname:
        return "has no host"
    if parts.username is not None or parts.password is not None:
        return "must not hold a user name or password"
    if parts.query or parts.fragment or "?" in text or "#" in text:
        return "must not have a query (?) or fragment (#)"
    return None


def parse_size(text: str) -> int:
    """Bytes in ``200MB``, ``1.5GiB``, ``64k`` or ``1000``; raise ``RegistryError`` naming the value."""
    match = _SIZE.match(text or "")
    if not match:
        raise RegistryError(
            f"size {text!r} is not a number of bytes", "write it as 1000, 64KB, 200MB, 1.5GiB (KB = 1000, KiB = 1024)"
        )
    number, unit = float(match.group(1)), (match.group(2) or "").lower()
    base = 1024 if "i" in unit else 1000
    power = "bkmgt".find(unit[:1]) if unit[:1] in "kmgt" and unit else 0
    size = int(number * base**power) if power > 0 else int(number)
    if size <= 0:
        raise RegistryError(f"size {text!r} must be positive", "give a limit such as 200MB")
    return size


def format_size(size: int) -> str:
    """``1234567`` -> ``1.2 MB``."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"
