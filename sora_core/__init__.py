"""sora-core: a text-to-video model taken apart into typed, interchangeable particles."""

from __future__ import annotations

__version__ = "0.1.0"
