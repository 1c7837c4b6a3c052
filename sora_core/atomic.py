"""Writing files atomically: a temporary name beside the target, then one rename.

Readers see the old file or the new one, never half of either, and a failure leaves the
old file (or nothing) in place. The result gets the permissions a plain ``open(path, "w")``
would give (``0o666`` less the umask), not ``mkstemp``'s owner-only ``0o600``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_MODE = 0o666 & ~_umask()


@contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; when the block succeeds it is renamed over ``target``.

    ``suffix`` lets writers that pick a format from the file name (``.mp4``, ``.gif``) see the right one.
    """
    target = Path(target)
    fd, name = tempfile.mkstemp(
        prefix=f".{target.name}-", suffix=suffix, dir=target.parent if str(target.parent) else "."
    )
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, _MODE)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes, *, fsync: bool = False) -> Path:
    """Write ``data`` to ``target`` atomically; ``fsync`` also flushes it to disk before the rename."""
    with atomic_path(target) as temporary, temporary.open("wb") as handle:
        handle.write(data)
        if fsync:
            handle.flush()
            os.fsync(handle.fileno())
    return Path(target)


def atomic_write_text(target: str | os.PathLike[str], text: str, *, fsync: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    return atomic_write_bytes(target, text.encode("utf-8"), fsync=fsync)
