"""Timestamps as the catalog stores them: UTC, ISO 8601, to the microsecond."""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> str:
    """The current UTC time as ``2026-01-31T12:34:56.123456Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
