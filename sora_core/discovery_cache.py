"""The on-disk cache of what discovery read from each distribution.

One JSON file, keyed by the distribution's metadata directory; each entry keeps
the stat stamps it was read under and what discovery validated then (format 2:
particles, kinds, spaces, templates and problems, not the raw manifests). A stale, corrupt or unwritable cache is
never an error: discovery just reads the plugins again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (about 3 ms of `sora list`)
if TYPE_CHECKING:
    from typing import Any

CACHE_FORMAT = 2


def file_stamp(path: str) -> list[int] | None:
    """``[mtime_ns, size]`` of a file, or ``None`` when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def default_cache_dir() -> Path | None:
    """``$SORA_CACHE_DIR``, else ``$XDG_CACHE_HOME/sora``, else ``~/.cache/sora``; ``None`` if disabled."""
    if os.environ.get("SORA_NO_CACHE"):
        return None
    if os.environ.get("SORA_CACHE_DIR"):
        return Path(os.environ["SORA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "sora")


class DiscoveryCache:
    """Per-distribution entries loaded at start and written back only when they changed."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, Any] = {}
        self._used: set[str] = set()
        self._dirty = False
        if path is not None:
            self._entries = _read(path)

    @classmethod
    def default(cls) -> DiscoveryCache:
        directory = default_cache_dir()
        return cls(directory / "discovery.json" if directory else None)

    def get(self, key: str) -> Any:
        self._used.add(key)
        return self._entries.get(key)

    def put(self, key: str, value: Any) -> None:
        self._used.add(key)
        self._entries[key] = value
        self._dirty = True

    def save(self) -> None:
        """Write the entries back if anything changed, dropping those of uninstalled distributions."""
        if self.path is None:
            return
        gone = {key for key in set(self._entries) - self._used if not os.path.isdir(key)}
        if gone:
            self._entries = {k: v for k, v in self._entries.items() if k not in gone}
            self._dirty = True
        if not self._dirty:
            return
        from sora_core.atomic import atomic_write_text  # (tempfile) only when there is something to write

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # json.dumps uses the C encoder; json.dump to a file does not.
            atomic_write_text(
                self.path, json.dumps({"format": CACHE_FORMAT, "entries": self._entries}, separators=(",", ":"))
            )
        except OSError:
            return  # a cache we cannot write only costs speed
        self._dirty = False


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or not isinstance(data.get("entries"), dict):
        return {}
    return data["entries"]
