"""The server's settings and the layout of its data directory."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sora_registry.errors import RegistryError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8417
DEFAULT_MAX_UPLOAD = 200 * 10**6
CATALOG_NAME = "catalog.sqlite3"

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Settings:
    """Where the registry keeps its data and what it accepts.

    ``DATA/catalog.sqlite3`` is the catalog, ``DATA/files/PROJECT/FILENAME`` the published files,
    ``DATA/tmp`` the uploads in flight (on the same filesystem, so publishing is a rename).
    """

    data_dir: Path
    max_upload_size: int = DEFAULT_MAX_UPLOAD

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / CATALOG_NAME

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def staging_dir(self) -> Path:
        return self.data_dir / "tmp"


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
