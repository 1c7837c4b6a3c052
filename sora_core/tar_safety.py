"""Checking an untrusted ``.tar.gz`` (an sdist) before ``tarfile`` reads it.

:func:`scan_gzip` inflates the file once, in chunks, and refuses with a :class:`PackageError`: a file that
does not start with a gzip header (prepended data, or not gzip), bytes after the gzip stream (junk or a
second archive, which Python's gzip would silently read on), corrupt or truncated data, and gzip bombs
(more than ``max_unpacked`` bytes, or more than ``max_ratio`` times the file's size above ``ratio_floor``),
stopping the moment a cap is passed. It returns where the tar stream's last non-zero byte ends, so the
caller can refuse data hidden after the tar archive's end.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

from sora_core.errors import PackageError
from sora_core.zip_safety import ZipLimits

__all__ = ["scan_gzip"]

_CHUNK = 1 << 20
_REBUILD = "rebuild it with `python -m build --sdist` and publish that file unchanged"


def scan_gzip(path: Path, limits: ZipLimits) -> int:
    """Inflate the ``.tar.gz`` at ``path`` under ``limits``; return the end of its last non-zero tar byte."""
    with path.open("rb") as file:
        size = os.fstat(file.fileno()).st_size
        if file.read(3) != b"\x1f\x8b\x08":
            raise PackageError(
                f"{path} is not a readable .tar.gz sdist: it does not start with a gzip header "
                "(bytes before the archive, or not gzip at all)",
                _REBUILD,
            )
        file.seek(0)
        inflater = zlib.decompressobj(wbits=31)
        inflated = end = 0
        try:
            while not inflater.eof and (chunk := file.read(_CHUNK)):
                data = inflater.decompress(chunk, _CHUNK)
                while data:
                    stripped = len(data.rstrip(b"\0"))
                    end = inflated + stripped if stripped else end
                    inflated += len(data)
                    _check_caps(path, inflated, size, limits)
                    tail = inflater.unconsumed_tail
                    data = inflater.decompress(tail, _CHUNK) if tail else b""
        except zlib.error as exc:
            raise PackageError(f"{path} is not a readable .tar.gz sdist: corrupt gzip data ({exc})", _REBUILD) from None
        if not inflater.eof:
            raise PackageError(f"{path} is not a readable .tar.gz sdist: its gzip stream is truncated", _REBUILD)
        if inflater.unused_data or file.read(1):
            raise PackageError(
                f"{path} has bytes after the end of its gzip stream (junk, or a second archive appended)", _REBUILD
            )
    return end


def _check_caps(path: Path, inflated: int, size: int, limits: ZipLimits) -> None:
    if inflated > limits.max_unpacked:
        raise PackageError(
            f"{path} unpacks to more than {limits.max_unpacked} bytes",
            "ship a smaller sdist, or raise the limit if you trust the file (`--max-unpacked-size`)",
        )
    if inflated > limits.ratio_floor and inflated > size * limits.max_ratio:
        raise PackageError(
            f"{path} inflates to more than {limits.max_ratio} times its {size} bytes (a gzip bomb)",
            "ship a smaller sdist, or raise the ratio limit if you trust the file (`--max-compression-ratio`)",
        )
