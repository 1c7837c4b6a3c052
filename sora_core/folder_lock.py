"""One process at a time in a folder: an advisory ``flock`` on ``FOLDER/.lock``, released when the holder's
process ends, however it ends (a SIGKILL too). Used by batch jobs (their work folder) and ``sora serve`` (its
data folder)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from sora_core.errors import ConfigError

__all__ = ["LOCK_NAME", "hold_folder"]

LOCK_NAME = ".lock"


@contextlib.contextmanager
def hold_folder(folder: Path, refusal: str, hint: str) -> Iterator[None]:
    """Hold ``folder`` (it must exist) while the block runs; when another process holds it, a ``ConfigError``
    whose message is ``refusal`` with ``{pid}`` replaced by the holder's process id (``?`` when unknown)."""
    try:
        import fcntl
    except ImportError:  # not a POSIX system: no lock
        yield
        return
    handle = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(handle, 32).decode("ascii", "replace").strip()
            raise ConfigError(refusal.replace("{pid}", holder or "?"), hint) from None
        os.ftruncate(handle, 0)
        os.write(handle, str(os.getpid()).encode("ascii"))
        yield
    finally:
        os.close(handle)
