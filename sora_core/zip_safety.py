"""Reading an untrusted zip archive (a wheel) strictly, so what is checked is exactly what pip installs.

:class:`SafeZip` parses the archive's structures itself with :mod:`struct` (``zipfile`` tolerates
prepended data, trailing junk and headers that disagree, which is how polyglot files slip through) and
refuses, with a :class:`PackageError` naming the member:

* anything before the first local header (byte 0 must be ``PK\\x03\\x04``) or after the end record
  (a zip comment counts only up to its declared length, and may not hide a second end record);
* a central directory entry whose local header is not where it says, or disagrees with it (name,
  flags, method, CRC, sizes), gaps or overlaps between members, duplicate or NUL-bearing names;
* encrypted members, and every compression method but stored and deflate;
* zip bombs: a member declaring, or really inflating to, more than ``max_ratio`` times its compressed
  size (members under ``ratio_floor`` bytes exempt), or an archive over ``max_unpacked`` bytes in all.
  Declared sizes are checked before anything is inflated; inflated bytes are counted while streaming
  and reading stops the moment a member passes its declared size or a cap.

Members are read only through :meth:`SafeZip.stream`, which also checks each member's CRC and size.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from sora_core.errors import PackageError

__all__ = ["DEFAULT_MAX_RATIO", "DEFAULT_MAX_UNPACKED", "DEFAULT_RATIO_FLOOR", "SafeZip", "ZipLimits", "ZipMember"]

DEFAULT_MAX_UNPACKED = 4 * 2**30
DEFAULT_MAX_RATIO = 200
DEFAULT_RATIO_FLOOR = 2**20
DEFAULT_MAX_MEMBERS = 100_000

STORED, DEFLATED = 0, 8
METHOD_NAMES = {1: "shrink", 6: "implode", 9: "deflate64", 12: "bzip2", 14: "lzma", 93: "zstandard", 95: "xz"}
METHOD_NAMES |= {96: "jpeg", 97: "wavpack", 98: "ppmd", 99: "AES encryption"}
_ENCRYPTED, _DESCRIPTOR, _STRONG_ENCRYPTION, _UTF8, _MASKED_DIRECTORY = 0x1, 0x8, 0x40, 0x800, 0x2000
_ALLOWED_FLAGS = 0x2 | 0x4 | _DESCRIPTOR | _UTF8  # deflate options, data descriptor, UTF-8 names

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_END64 = struct.Struct("<IQHHIIQQQQ")
_LOCATOR = struct.Struct("<IIQI")
_LOCAL_SIG, _CENTRAL_SIG, _END_SIG = 0x04034B50, 0x02014B50, 0x06054B50
_END64_SIG, _LOCATOR_SIG, _DESCRIPTOR_SIG = 0x06064B50, 0x07064B50, 0x08074B50
_MAX16, _MAX32 = 0xFFFF, 0xFFFFFFFF
_CHUNK = 1 << 20
_REBUILD = "rebuild the wheel with `python -m build` and publish that file unchanged"


@dataclass(frozen=True)
class ZipLimits:
    """Caps on what reading an archive may cost; each is a ``PackageError`` when passed."""

    max_unpacked: int = DEFAULT_MAX_UNPACKED  #: bytes all members may inflate to together
    max_ratio: int = DEFAULT_MAX_RATIO  #: inflated / compressed size of one member, above ``ratio_floor``
    ratio_floor: int = DEFAULT_RATIO_FLOOR  #: members inflating to at most this many bytes skip the ratio cap
    max_members: int = DEFAULT_MAX_MEMBERS  #: entries in the central directory


@dataclass(frozen=True)
class ZipMember:
    """One archive member as its central directory entry and local header (which agree) describe it."""

    name: str
    method: int
    flags: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int
    data_offset: int
    end_offset: int  #: the first byte after its data (and data descriptor)

    def is_dir(self) -> bool:
        return self.name.endswith("/")


class SafeZip:
    """A strictly parsed zip archive read from the seekable binary ``file`` of ``size`` bytes.

    ``label`` names the archive in messages (its path). Raises :class:`PackageError` on any structure
    that is malformed, ambiguous or over ``limits``.
    """

    def __init__(self, file: BinaryIO, size: int, label: str, limits: ZipLimits | None = None) -> None:
        self.file = file
        self.size = size
        self.label = label
        self.limits = limits or ZipLimits()
        self.inflated = 0  #: bytes inflated by counted reads so far
        self.members = _parse(self)
        self.by_name = {m.name: m for m in self.members}

    def error(self, reason: str, hint: str = _REBUILD) -> PackageError:
        return PackageError(f"{self.label} {reason}", hint)

    def read_at(self, offset: int, length: int) -> bytes:
        self.file.seek(offset)
        return self.file.read(length)

    def stream(self, member: ZipMember, *, count: bool = False) -> Iterator[bytes]:
        """The member's inflated bytes in chunks; the CRC and size are checked when the last one is read.

        With ``count``, the bytes count towards ``max_unpacked`` for the archive (read each member once so).
        """
        inflated, crc = 0, 0
        chunks = self._raw(member) if member.method == STORED else self._inflate(member)
        for chunk in chunks:
            inflated += len(chunk)
            if count:
                self.inflated += len(chunk)
                if self.inflated > self.limits.max_unpacked:
                    raise self._too_large(self.inflated)
            if inflated > member.size:
                raise self.error(
                    f"member {member.name!r} inflates to more than the {member.size} bytes it declares "
                    "(a zip bomb or a corrupt archive)"
                )
            if inflated > self.limits.ratio_floor and inflated > member.compressed_size * self.limits.max_ratio:
                raise self._bomb(member, inflated, "inflates to")
            crc = zlib.crc32(chunk, crc)
            yield chunk
        if inflated != member.size:
            raise self.error(f"member {member.name!r} inflates to {inflated} bytes, but declares {member.size}")
        if crc != member.crc:
            raise self.error(f"member {member.name!r} fails its CRC check (stored {member.crc:08x}, data {crc:08x})")

    def open(self, member: ZipMember) -> BinaryIO:
        """A file object over :meth:`stream` (for readers that want ``read(n)``)."""
        return io.BufferedReader(_ChunkReader(self.stream(member)))

    def read(self, member: ZipMember, max_size: int) -> bytes:
        """The whole member, refused when it declares more than ``max_size`` bytes."""
        if member.size > max_size:
            raise self.error(
                f"member {member.name!r} is {member.size} bytes, more than the {max_size} allowed for it",
                "keep metadata, manifests and configs small; weights belong in .safetensors files",
            )
        return b"".join(self.stream(member))

    def _raw(self, member: ZipMember) -> Iterator[bytes]:
        position, left = member.data_offset, member.compressed_size
        while left:
            chunk = self.read_at(position, min(left, _CHUNK))
            if not chunk:
                raise self.error(f"member {member.name!r} is truncated")
            position, left = position + len(chunk), left - len(chunk)
            yield chunk

    def _inflate(self, member: ZipMember) -> Iterator[bytes]:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            for chunk in self._raw(member):
                data = inflater.decompress(chunk, _CHUNK)
                while data:
                    yield data
                    data = inflater.decompress(inflater.unconsumed_tail, _CHUNK) if inflater.unconsumed_tail else b""
                if inflater.eof and (inflater.unused_data or inflater.unconsumed_tail):
                    raise self.error(f"member {member.name!r} has bytes after the end of its deflate stream")
            tail = inflater.flush()
            if tail:
                yield tail
        except zlib.error as exc:
            raise self.error(f"member {member.name!r} holds corrupt deflate data ({exc})") from None
        if not inflater.eof:
            raise self.error(f"member {member.name!r} ends before its deflate stream does (truncated or corrupt)")

    def _too_large(self, size: int) -> PackageError:
        return self.error(
            f"unpacks to {size} bytes or more, over the limit of {self.limits.max_unpacked}",
            "ship large weights in a separate package, or raise the limit if you trust the file "
            "(`max_unpacked=` in Python, `--max-unpacked-size` for sora-registry serve)",
        )

    def _bomb(self, member: ZipMember, size: int, verb: str) -> PackageError:
        ratio = size / max(member.compressed_size, 1)
        return self.error(
            f"member {member.name!r} {verb} {size} bytes from {member.compressed_size} ({ratio:.0f}:1), over the "
            f"compression ratio limit of {self.limits.max_ratio}:1 (a zip bomb)",
            "store such data uncompressed or less compressible, or raise the ratio limit if you trust the file "
            "(`max_ratio=` in Python, `--max-compression-ratio` for sora-registry serve)",
        )


class _ChunkReader(io.RawIOBase):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._buffer:
            self._buffer = next(self._chunks, b"")
            if not self._buffer:
                return 0
        count = min(len(buffer), len(self._buffer))
        buffer[:count] = self._buffer[:count]
        self._buffer = self._buffer[count:]
        return count


# --- parsing -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _End:
    offset: int  #: where the central directory must end (the zip64 end record, or the end record)
    entries: int
    directory_size: int
    directory_offset: int


def _parse(archive: SafeZip) -> list[ZipMember]:
    if archive.read_at(0, 4) != b"PK\x03\x04":
        raise archive.error(
            "is not a readable wheel: it does not start with a zip local file header (bytes before the archive, "
            "or not a zip file at all)"
        )
    end = _end_record(archive)
    if end.entries > archive.limits.max_members:
        raise archive.error(
            f"has {end.entries} members, more than the limit of {archive.limits.max_members}",
            "ship fewer files, or raise the limit (`max_members=`) if you trust the file",
        )
    if end.directory_offset + end.directory_size != end.offset:
        raise archive.error(
            f"has a central directory at {end.directory_offset} (+{end.directory_size} bytes) that does not end "
            f"where its end record starts ({end.offset}): data hidden between them, or a prepended archive"
        )
    members = _central_directory(archive, end)
    _check_layout(archive, members, end)
    return members


def _end_record(archive: SafeZip) -> _End:
    tail_start = max(0, archive.size - _END.size - _MAX16)
    tail = archive.read_at(tail_start, archive.size - tail_start)
    at = _end_record_at(tail)
    if at is None:
        if b"PK\x05\x06" in tail:
            raise archive.error("is not a readable wheel: bytes follow its end-of-central-directory record")
        raise archive.error("is not a readable wheel: it has no end-of-central-directory record (not a zip file)")
    if b"PK\x05\x06" in tail[at + _END.size :]:
        raise archive.error("has a zip comment holding a second end record (zipfile and pip would read that one)")
    fields = _END.unpack_from(tail, at)
    _, disk, directory_disk, on_disk, entries, directory_size, directory_offset, _ = fields
    offset = tail_start + at
    if disk or directory_disk or on_disk != entries:
        raise archive.error("is a multi-disk (split) zip archive, which wheels never are")
    locator_at = offset - _LOCATOR.size
    if locator_at >= 0 and archive.read_at(locator_at, 4) == b"PK\x06\x07":
        return _zip64_end(archive, locator_at, (entries, directory_size, directory_offset))
    return _End(offset, entries, directory_size, directory_offset)


def _end_record_at(tail: bytes) -> int | None:
    """The last end record in ``tail`` whose comment ends exactly at the end of the file."""
    at = tail.rfind(b"PK\x05\x06")
    while at >= 0:
        if at + _END.size <= len(tail) and at + _END.size + _END.unpack_from(tail, at)[7] == len(tail):
            return at
        at = tail.rfind(b"PK\x05\x06", 0, at)
    return None


def _zip64_end(archive: SafeZip, locator_at: int, plain: tuple[int, int, int]) -> _End:
    """The zip64 end record, which must sit right before its locator (where ``zipfile`` looks for it)."""
    _, disk, record_at, disks = _LOCATOR.unpack(archive.read_at(locator_at, _LOCATOR.size))
    expected_at = locator_at - _END64.size
    if disk or disks > 1 or record_at != expected_at or expected_at < 0:
        raise archive.error("has an inconsistent zip64 end locator")
    fields = _END64.unpack(archive.read_at(expected_at, _END64.size))
    signature, record_size, _, _, disk, directory_disk, on_disk, entries, directory_size, directory_offset = fields
    if signature != _END64_SIG or record_size != _END64.size - 12 or disk or directory_disk or on_disk != entries:
        raise archive.error("has an invalid zip64 end-of-central-directory record")
    for value, value64 in zip(plain, (entries, directory_size, directory_offset), strict=True):
        if value not in (value64, _MAX16, _MAX32):
            raise archive.error("has zip64 and plain end records that disagree")
    return _End(expected_at, entries, directory_size, directory_offset)


def _central_directory(archive: SafeZip, end: _End) -> list[ZipMember]:
    data = archive.read_at(end.directory_offset, end.directory_size)
    if len(data) != end.directory_size:
        raise archive.error("is truncated: its central directory runs past the end of the file")
    members: list[ZipMember] = []
    names: set[str] = set()
    at = 0
    while at < len(data):
        if at + _CENTRAL.size > len(data) or _CENTRAL.unpack_from(data, at)[0] != _CENTRAL_SIG:
            raise archive.error(f"has a corrupt central directory (entry {len(members) + 1} at byte {at})")
        fields = _CENTRAL.unpack_from(data, at)
        flags, method, crc, compressed, size = fields[3], fields[4], fields[7], fields[8], fields[9]
        name_length, extra_length, comment_length, disk, offset = (*fields[10:14], fields[16])
        start = at + _CENTRAL.size
        at = start + name_length + extra_length + comment_length
        if at > len(data):
            raise archive.error(f"has a corrupt central directory (entry {len(members) + 1} runs past its end)")
        raw_name = data[start : start + name_length]
        name = _decode_name(archive, raw_name, flags)
        extra = _extra_fields(archive, data[start + name_length : start + name_length + extra_length], name)
        size, compressed, offset = _zip64_values(archive, extra.get(1), name, (size, compressed, offset), disk)
        if name in names:
            raise archive.error(f"has two members named {name!r}; pip would install only one of them")
        names.add(name)
        _check_method(archive, name, flags, method)
        central = ZipMember(name, method, flags, crc, compressed, size, offset, 0, 0)
        members.append(_with_local_header(archive, raw_name, central))
        if len(members) > end.entries:
            break
    if len(members) != end.entries:
        raise archive.error(f"has {len(members)} central directory entries, but its end record counts {end.entries}")
    return members


def _decode_name(archive: SafeZip, raw: bytes, flags: int) -> str:
    try:
        name = raw.decode("utf-8") if flags & _UTF8 else raw.decode("cp437")
    except UnicodeDecodeError:
        raise archive.error(f"has a member name {raw!r} flagged UTF-8 that is not UTF-8") from None
    if not name or any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise archive.error(
            f"has a member name {name!r} that is empty or holds control characters (zipfile cuts it at a NUL)"
        )
    return name


def _extra_fields(archive: SafeZip, data: bytes, name: str) -> dict[int, bytes]:
    fields: dict[int, bytes] = {}
    at = 0
    while at < len(data):
        if at + 4 > len(data):
            raise archive.error(f"member {name!r} has a truncated extra field")
        kind, length = struct.unpack_from("<HH", data, at)
        if at + 4 + length > len(data) or kind in fields:
            raise archive.error(f"member {name!r} has a malformed extra field (id {kind:#06x})")
        fields[kind] = data[at + 4 : at + 4 + length]
        at += 4 + length
    return fields


def _zip64_values(
    archive: SafeZip, extra: bytes | None, name: str, values: tuple[int, int, int], disk: int
) -> tuple[int, int, int]:
    """Replace the 32-bit sizes and offset marked ``0xFFFFFFFF`` by their zip64 values, in zipfile's order."""
    if disk not in (0, _MAX16):
        raise archive.error(f"member {name!r} lives on another disk of a split archive")
    result = list(values)
    data = extra or b""
    for index, value in enumerate(values):
        if value != _MAX32:
            continue
        if len(data) < 8:
            raise archive.error(f"member {name!r} lacks the zip64 extra field its header needs")
        (result[index],) = struct.unpack_from("<Q", data)
        data = data[8:]
    return result[0], result[1], result[2]


def _check_method(archive: SafeZip, name: str, flags: int, method: int) -> None:
    if flags & (_ENCRYPTED | _STRONG_ENCRYPTION | _MASKED_DIRECTORY) or method == 99:
        raise archive.error(
            f"member {name!r} is encrypted; a wheel's members must be readable",
            "rebuild the wheel with `python -m build`, without encryption",
        )
    if method not in (STORED, DEFLATED):
        label = METHOD_NAMES.get(method, f"method {method}")
        raise archive.error(
            f"member {name!r} is compressed with {label} (zip method {method}); only stored and deflate are accepted",
            "rebuild the wheel with `python -m build`, which uses deflate",
        )
    if flags & ~_ALLOWED_FLAGS:
        raise archive.error(f"member {name!r} uses unsupported zip features (general purpose flags {flags:#06x})")


def _with_local_header(archive: SafeZip, raw_name: bytes, central: ZipMember) -> ZipMember:
    """``central`` completed from its local header, which must agree with it."""
    name, flags, method, crc = central.name, central.flags, central.method, central.crc
    compressed, size, offset = central.compressed_size, central.size, central.header_offset
    header = archive.read_at(offset, _LOCAL.size)
    if len(header) < _LOCAL.size or _LOCAL.unpack(header)[0] != _LOCAL_SIG:
        raise archive.error(f"member {name!r}: its central directory entry points at {offset}, but no local header")
    _, _, local_flags, local_method, _, _, local_crc, local_compressed, local_size, name_length, extra_length = (
        _LOCAL.unpack(header)
    )
    local_name = archive.read_at(offset + _LOCAL.size, name_length)
    extra = _extra_fields(archive, archive.read_at(offset + _LOCAL.size + name_length, extra_length), name)
    disagree = []
    if local_name != raw_name:
        disagree.append(f"name {local_name!r}")
    if local_flags != flags:
        disagree.append(f"flags {local_flags:#06x} vs {flags:#06x}")
    if local_method != method:
        disagree.append(f"compression method {local_method} vs {method}")
    if not flags & _DESCRIPTOR:
        if local_crc != crc:
            disagree.append(f"CRC {local_crc:08x} vs {crc:08x}")
        local = (local_size, local_compressed, 0)
        local_size, local_compressed, _ = _zip64_values(archive, extra.get(1), name, local, 0)
        if (local_size, local_compressed) != (size, compressed):
            disagree.append(f"sizes {local_compressed}/{local_size} vs {compressed}/{size}")
    if disagree:
        raise archive.error(
            f"member {name!r}: its local header and central directory entry disagree ({'; '.join(disagree)}), "
            "so tools would read different contents"
        )
    if method == STORED and compressed != size:
        raise archive.error(f"member {name!r} is stored but its sizes differ ({compressed} vs {size})")
    if size > archive.limits.ratio_floor and size > compressed * archive.limits.max_ratio:
        raise archive._bomb(central, size, "declares")
    data_offset = offset + _LOCAL.size + name_length + extra_length
    end_offset = data_offset + compressed
    if flags & _DESCRIPTOR:
        end_offset = _data_descriptor(archive, name, end_offset, crc, compressed, size, 1 in extra)
    return ZipMember(name, method, flags, crc, compressed, size, offset, data_offset, end_offset)


def _data_descriptor(archive: SafeZip, name: str, at: int, crc: int, compressed: int, size: int, zip64: bool) -> int:
    """Check the descriptor after a member's data against the central entry; return where it ends."""
    data = archive.read_at(at, 24)
    signed = data[:4] == b"PK\x07\x08"
    body = data[4:] if signed else data
    layout = "<IQQ" if zip64 else "<III"
    if len(body) < struct.calcsize(layout):
        raise archive.error(f"member {name!r} is truncated: its data descriptor is missing")
    if struct.unpack_from(layout, body) != (crc, compressed, size):
        raise archive.error(f"member {name!r}: its data descriptor disagrees with its central directory entry")
    return at + (4 if signed else 0) + struct.calcsize(layout)


def _check_layout(archive: SafeZip, members: list[ZipMember], end: _End) -> None:
    """Members must tile the file from byte 0 to the central directory: no gaps, no overlaps."""
    declared = sum(m.size for m in members)
    if declared > archive.limits.max_unpacked:
        raise archive._too_large(declared)
    position = 0
    for member in sorted(members, key=lambda m: m.header_offset):
        if member.header_offset != position:
            what = "overlaps the member before it" if member.header_offset < position else "follows unlisted bytes"
            raise archive.error(
                f"member {member.name!r} at byte {member.header_offset} {what} (ends at {position}): "
                "the archive holds data its central directory does not describe"
            )
        position = member.end_offset
    if position != end.directory_offset:
        raise archive.error(
            f"has {end.directory_offset - position} bytes between its last member and its central directory"
            if position < end.directory_offset
            else "has members that run into its central directory"
        )
