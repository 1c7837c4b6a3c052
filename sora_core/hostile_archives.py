"""Hostile wheels built from valid ones, for tests and fuzzing of :mod:`sora_core.zip_safety` (torch-free).

:func:`wheel_members` reads a valid wheel's members; :func:`raw_zip` writes members back byte by byte
(local headers, central directory, end record), with every field overridable, so a test can build
exactly one defect: a second archive prepended, junk appended, a local header that disagrees with its
central entry, members that overlap, a gap, a duplicate name, a forbidden method, a bomb.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = ["Entry", "deflate", "entries_of", "raw_zip", "rerecord", "wheel_members", "with_entry"]


def deflate(data: bytes, level: int = 9) -> bytes:
    """Raw deflate data, as a zip member holds it."""
    packer = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@dataclass
class Entry:
    """One member to write: its name, payload as stored in the archive, and every header field.

    ``local`` and ``central`` override fields of one header only (keys: ``flags``, ``method``, ``crc``,
    ``compressed_size``, ``size``, ``name``, ``offset``); ``before`` is written before the local header;
    with ``write_local`` false only the central entry is written (give ``central["offset"]``).
    """

    name: str
    payload: bytes
    method: int
    crc: int
    compressed_size: int
    size: int
    flags: int = 0
    local: dict[str, Any] = field(default_factory=dict)
    central: dict[str, Any] = field(default_factory=dict)
    before: bytes = b""
    write_local: bool = True

    @classmethod
    def of(cls, name: str, data: bytes, method: int = zipfile.ZIP_DEFLATED) -> Entry:
        payload = deflate(data) if method == zipfile.ZIP_DEFLATED else data
        return cls(name, payload, method, zlib.crc32(data), len(payload), len(data))


def wheel_members(path: Path) -> dict[str, bytes]:
    """Every member of a (trusted, test-made) wheel, in archive order."""
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def rerecord(members: dict[str, bytes]) -> dict[str, bytes]:
    """``members`` with their ``RECORD`` rewritten to match them (so only the defect under test remains)."""
    record = next(name for name in members if name.endswith(".dist-info/RECORD"))
    lines = [f"{name},sha256={_hash(data)},{len(data)}\n" for name, data in members.items() if name != record]
    return {**members, record: ("".join(lines) + f"{record},,\n").encode()}


def _hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def entries_of(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> list[Entry]:
    return [Entry.of(name, data, method) for name, data in members.items()]


def raw_zip(
    entries: list[Entry],
    *,
    prefix: bytes = b"",
    suffix: bytes = b"",
    comment: bytes = b"",
    comment_length: int | None = None,
    shift_offsets: int = 0,
    count: int | None = None,
    before_directory: bytes = b"",
) -> bytes:
    """A zip archive of ``entries`` written field by field.

    ``prefix`` goes before the first local header and ``suffix`` after the end record; the central
    directory's offsets are moved by ``shift_offsets`` (a prepended archive whose offsets were fixed up);
    ``comment_length`` and ``count`` override what the end record declares; ``before_directory`` is
    written between the last member and the central directory.
    """
    out = bytearray(prefix)
    central = bytearray()
    for entry in entries:
        out += entry.before
        offset = len(out)
        if entry.write_local:
            out += _local_header(entry) + entry.payload
        values = {**_fields(entry), "offset": offset + shift_offsets, **entry.central}
        name = values["name"].encode() if isinstance(values["name"], str) else values["name"]
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            values["flags"],
            values["method"],
            0,
            0x21,
            values["crc"],
            values["compressed_size"],
            values["size"],
            len(name),
            0,
            0,
            0,
            0,
            0,
            values["offset"],
        )
        central += name
    out += before_directory
    directory_offset = len(out) + shift_offsets
    out += central
    total = len(entries) if count is None else count
    length = len(comment) if comment_length is None else comment_length
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, total, total, len(central), directory_offset, length)
    return bytes(out + comment + suffix)


def _local_header(entry: Entry) -> bytes:
    local = {**_fields(entry), **entry.local}
    name = local["name"].encode() if isinstance(local["name"], str) else local["name"]
    header = struct.pack(
        "<IHHHHHIIIHH",
        0x04034B50,
        20,
        local["flags"],
        local["method"],
        0,
        0x21,
        local["crc"],
        local["compressed_size"],
        local["size"],
        len(name),
        0,
    )
    return header + name


def _fields(entry: Entry) -> dict[str, Any]:
    return {
        "name": entry.name,
        "flags": entry.flags,
        "method": entry.method,
        "crc": entry.crc,
        "compressed_size": entry.compressed_size,
        "size": entry.size,
    }


def with_entry(entries: list[Entry], name: str, **changes: Any) -> list[Entry]:
    """``entries`` with the one called ``name`` changed (dataclass fields)."""
    return [replace(e, **changes) if e.name == name else e for e in entries]
