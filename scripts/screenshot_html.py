"""Screenshot an HTML page with headless Chromium.

    python scripts/screenshot_html.py PAGE.html OUT.png [--width 1400] [--height 900]

Chromium runs with a throw-away profile, no network services and no GPU; the screenshot is
the window (``--width`` x ``--height``). Any failure (no Chromium, a timeout, no file
written) is one ``error: ...`` line on stderr and exit status 1. The function
:func:`screenshot` does the work, for use from other code (load this file with importlib).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class ScreenshotError(Exception):
    """The page could not be screenshotted; the message says why."""


def find_chromium(explicit: str | None = None) -> str:
    """The Chromium executable: ``explicit``, else the first of :data:`CANDIDATES` on ``PATH``."""
    if explicit:
        found = shutil.which(explicit)
        if not found:
            raise ScreenshotError(f"chromium executable {explicit!r} not found")
        return found
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise ScreenshotError("chromium is not installed (looked for " + ", ".join(CANDIDATES) + " on PATH)")


def chromium_command(chromium: str, page: Path, out: Path, width: int, height: int, profile: str) -> list[str]:
    """The command line that writes a ``width`` x ``height`` screenshot of ``page`` to ``out``."""
    return [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        f"--screenshot={out}",
        page.resolve().as_uri(),
    ]


def screenshot(
    page: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    width: int = 1400,
    height: int = 900,
    timeout: float = 120.0,
    chromium: str | None = None,
) -> Path:
    """Write a PNG screenshot of the HTML file ``page`` to ``out`` and return its path.

    Raises :class:`ScreenshotError` when Chromium is missing, fails, times out, or writes
    no file.
    """
    page_path, out_path = Path(page), Path(out).resolve()
    if not page_path.is_file():
        raise ScreenshotError(f"no such page: {page_path}")
    if width <= 0 or height <= 0:
        raise ScreenshotError(f"window size must be positive, not {width}x{height}")
    executable = find_chromium(chromium)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="sora-chromium-") as profile:
        command = chromium_command(executable, page_path, out_path, width, height, profile)
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ScreenshotError(f"chromium did not finish within {timeout:g} s") from None
        except OSError as exc:
            raise ScreenshotError(f"cannot run {executable}: {exc}") from None
    if not out_path.is_file() or out_path.stat().st_size == 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ScreenshotError(f"chromium wrote no screenshot (exit {result.returncode}): {last}")
    return out_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Screenshot an HTML page with headless Chromium.")
    parser.add_argument("page", help="the HTML file")
    parser.add_argument("out", help="the PNG file to write")
    parser.add_argument("--width", type=int, default=1400, help="window width in pixels (default 1400)")
    parser.add_argument("--height", type=int, default=900, help="window height in pixels (default 900)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for Chromium (default 120)")
    parser.add_argument("--chromium", help="the Chromium executable (default: found on PATH)")
    args = parser.parse_args(argv)
    try:
        path = screenshot(
            args.page, args.out, width=args.width, height=args.height, timeout=args.timeout, chromium=args.chromium
        )
    except ScreenshotError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
