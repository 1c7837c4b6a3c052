"""Issue 22, classes 3, 4 and 5: polyglot wheels, zip bombs and corrupt members are PackageErrors naming them.

Every hostile wheel here is a valid plugin wheel with exactly one defect, written field by field by
:func:`sora_core.hostile_archives.raw_zip`; the same members written without the defect pass.
"""

from __future__ import annotations

import bz2
import io
import random
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from sora_core.errors import PackageError
from sora_core.hostile_archives import Entry, deflate, entries_of, raw_zip, wheel_members, with_entry
from sora_core.synthetic import write_wheel
from sora_core.wheels import inspect_wheel
from sora_core.zip_safety import ZipLimits

WHEEL_NAME = "demo-1.0.0-py3-none-any.whl"
MODULE = "demo/particles.py"


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The members of a valid one-particle plugin wheel ``demo``."""
    return wheel_members(write_wheel(tmp_path_factory.mktemp("valid"), "demo", ["enc"]))


def write(directory: Path, data: bytes, name: str = WHEEL_NAME) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


def refused(path: Path, *words: str, **kwargs: object) -> PackageError:
    with pytest.raises(PackageError) as caught:
        inspect_wheel(path, **kwargs)  # type: ignore[arg-type]
    error = caught.value
    assert type(error) is PackageError
    for word in words:
        assert word in error.message, (word, error.message)
    assert error.hint, error.message
    assert str(path) in error.message
    return error


def other_zip() -> bytes:
    return raw_zip([Entry.of("evil.py", b"import os; os.system('id')\n")])


def _comment_with_end_record(entries: list[Entry]) -> bytes:
    fake_end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0, 0, 0, 0, 0)
    return raw_zip(entries, comment=b"note " + fake_end + b" more")


def _overlapping(entries: list[Entry]) -> bytes:
    """A stored member whose data holds a second member's local header, which a central entry points into."""
    inner = Entry.of("demo/hidden.py", b"print('hidden')\n", zipfile.ZIP_STORED)
    inner_local = raw_zip([inner])[: 30 + len(inner.name) + len(inner.payload)]
    outer = Entry.of("demo/outer.bin", b"xx" + inner_local, zipfile.ZIP_STORED)
    pointer = Entry(**{**inner.__dict__, "write_local": False, "central": {"offset": 30 + len(outer.name) + 2}})
    return raw_zip([outer, pointer, *entries])


def _zip64_locator_in_a_name(entries: list[Entry]) -> bytes:
    locator = struct.pack("<IIQI", 0x07064B50, 0, 12345, 1)
    return raw_zip([*entries, Entry.of("demo/x" + locator.decode("latin-1"), b"")])


# Each case: (id, build(entries) -> wheel bytes, words the PackageError message must contain).
POLYGLOTS: list[tuple[str, Callable[[list[Entry]], bytes], list[str]]] = [
    ("zip-prepended", lambda e: other_zip() + raw_zip(e), ["does not end where its end record starts"]),
    ("zip-prepended-offsets-fixed", lambda e: raw_zip(e, prefix=other_zip()), ["follows unlisted bytes"]),
    (
        "exe-stub-prepended",
        lambda e: raw_zip(e, prefix=b"MZ\x90\x00" + bytes(60), shift_offsets=-64),
        ["does not start with a zip local file header"],
    ),
    (
        "multipart-body",
        lambda e: (
            b'--xyz\r\nContent-Disposition: form-data; name="content"; filename="demo.whl"\r\n\r\n'
            + raw_zip(e)
            + b"\r\n--xyz--\r\n"
        ),
        ["does not start with a zip local file header"],
    ),
    ("junk-appended", lambda e: raw_zip(e) + b"junk after the end", ["bytes follow its end-of-central-directory"]),
    ("zip-appended", lambda e: raw_zip(e) + other_zip(), ["does not end where its end record starts"]),
    ("nul-padding-appended", lambda e: raw_zip(e) + bytes(4096), ["bytes follow its end-of-central-directory"]),
    (
        "comment-shorter-than-declared-rest",
        lambda e: raw_zip(e, comment=b"a comment", comment_length=3),
        ["bytes follow its end-of-central-directory"],
    ),
    (
        "comment-longer-than-file",
        lambda e: raw_zip(e, comment=b"abc", comment_length=300),
        ["bytes follow its end-of-central-directory"],
    ),
    ("comment-hides-end-record", _comment_with_end_record, ["comment holding a second end record"]),
    ("local-name-differs", lambda e: raw_zip(with_entry(e, MODULE, local={"name": "demo/particles.pY"})), ["name"]),
    ("local-method-differs", lambda e: raw_zip(with_entry(e, MODULE, local={"method": 0})), ["compression method"]),
    ("local-crc-differs", lambda e: raw_zip(with_entry(e, MODULE, local={"crc": 1})), ["CRC"]),
    ("local-size-differs", lambda e: raw_zip(with_entry(e, MODULE, local={"size": 7})), ["sizes"]),
    (
        "local-compressed-size-differs",
        lambda e: raw_zip(with_entry(e, MODULE, local={"compressed_size": 3})),
        ["sizes"],
    ),
    ("local-flags-differ", lambda e: raw_zip(with_entry(e, MODULE, local={"flags": 0x800})), ["flags"]),
    (
        "central-offset-off-by-one",
        lambda e: raw_zip(with_entry(e, MODULE, central={"offset": 1})),
        ["no local header"],
    ),
    (
        "central-offset-points-at-another-member",
        lambda e: raw_zip(with_entry(e, MODULE, central={"offset": 0})),
        ["disagree"],
    ),
    ("overlapping-members", _overlapping, ["overlaps the member before it"]),
    ("gap-between-members", lambda e: raw_zip(with_entry(e, MODULE, before=bytes(16))), ["follows unlisted bytes"]),
    (
        "hidden-data-before-directory",
        lambda e: raw_zip(e, before_directory=b"PK\x03\x04 hidden member"),
        ["bytes between its last member and its central directory"],
    ),
    ("duplicate-name", lambda e: raw_zip([*e, Entry.of(MODULE, b"import os\n")]), ["two members named"]),
    ("count-too-high", lambda e: raw_zip(e, count=len(e) + 1), ["end record counts"]),
    ("count-too-low", lambda e: raw_zip(e, count=len(e) - 1), ["end record counts"]),
    ("nul-in-name", lambda e: raw_zip([*e, Entry.of("demo/evil.py\x00.txt", b"x")]), ["control characters"]),
    ("empty-name", lambda e: raw_zip([*e, Entry.of("", b"x")]), ["empty"]),
    ("zip64-locator-forged", _zip64_locator_in_a_name, ["zip64"]),
    ("truncated-in-directory", lambda e: raw_zip(e)[:-30], ["end-of-central-directory record"]),
    ("truncated-half", lambda e: raw_zip(e)[: len(raw_zip(e)) // 2], ["end-of-central-directory record"]),
    ("empty-file", lambda e: b"", ["does not start with a zip local file header"]),
    ("not-a-zip", lambda e: b"this is not a zip archive", ["not a readable wheel"]),
    ("end-record-only", lambda e: raw_zip([]), ["does not start with a zip local file header"]),
]

BAD_MEMBERS: list[tuple[str, Callable[[list[Entry]], bytes], list[str]]] = [
    ("encrypted", lambda e: raw_zip(with_entry(e, MODULE, flags=0x1)), [MODULE, "is encrypted"]),
    ("strong-encryption", lambda e: raw_zip(with_entry(e, MODULE, flags=0x41)), [MODULE, "is encrypted"]),
    ("aes-method", lambda e: raw_zip(with_entry(e, MODULE, method=99)), [MODULE, "is encrypted"]),
    ("deflate64", lambda e: raw_zip(with_entry(e, MODULE, method=9)), [MODULE, "deflate64", "zip method 9"]),
    ("lzma", lambda e: raw_zip(with_entry(e, MODULE, method=14)), [MODULE, "lzma"]),
    ("implode", lambda e: raw_zip(with_entry(e, MODULE, method=6)), [MODULE, "implode"]),
    ("unknown-method", lambda e: raw_zip(with_entry(e, MODULE, method=77)), [MODULE, "method 77"]),
    ("patched-data-flag", lambda e: raw_zip(with_entry(e, MODULE, flags=0x20)), [MODULE, "unsupported zip features"]),
    ("bad-crc", lambda e: raw_zip(with_entry(e, MODULE, crc=0xDEADBEEF)), [MODULE, "fails its CRC check"]),
    (
        "corrupt-deflate",
        lambda e: raw_zip(with_entry(e, MODULE, payload=b"\x07" * 64, compressed_size=64)),
        [MODULE, "corrupt deflate data"],
    ),
    (
        "truncated-deflate",
        lambda e: raw_zip([_truncated_deflate(x) if x.name == MODULE else x for x in e]),
        [MODULE, "ends before its deflate stream"],
    ),
    (
        "bytes-after-deflate-stream",
        lambda e: raw_zip([_trailing_deflate(x) if x.name == MODULE else x for x in e]),
        [MODULE, "bytes after the end of its deflate stream"],
    ),
    (
        "stored-sizes-differ",
        lambda e: raw_zip([*e, Entry("demo/s.txt", b"abc", 0, zlib.crc32(b"abc"), 3, 5)]),
        ["demo/s.txt", "is stored but its sizes differ"],
    ),
    (
        "size-declared-too-small",
        lambda e: raw_zip(with_entry(e, MODULE, size=10)),
        [MODULE, "inflates to more than the 10 bytes it declares"],
    ),
    (
        "size-declared-too-large",
        lambda e: raw_zip([_bigger(x) if x.name == MODULE else x for x in e]),
        [MODULE, "but declares"],
    ),
]


def _truncated_deflate(entry: Entry) -> Entry:
    payload = entry.payload[: len(entry.payload) // 2]
    return Entry(entry.name, payload, entry.method, entry.crc, len(payload), entry.size)


def _trailing_deflate(entry: Entry) -> Entry:
    payload = entry.payload + b"hidden"
    return Entry(entry.name, payload, entry.method, entry.crc, len(payload), entry.size)


def _bigger(entry: Entry) -> Entry:
    return Entry(entry.name, entry.payload, entry.method, entry.crc, entry.compressed_size, entry.size + 1)


@pytest.mark.parametrize(("build", "words"), [c[1:] for c in POLYGLOTS], ids=[c[0] for c in POLYGLOTS])
def test_polyglot_and_malformed_archives_are_refused(
    tmp_path: Path, members: dict[str, bytes], build: Callable[[list[Entry]], bytes], words: list[str]
) -> None:
    refused(write(tmp_path, build(entries_of(members))), *words)


@pytest.mark.parametrize(("build", "words"), [c[1:] for c in BAD_MEMBERS], ids=[c[0] for c in BAD_MEMBERS])
def test_unreadable_members_are_refused_naming_them(
    tmp_path: Path, members: dict[str, bytes], build: Callable[[list[Entry]], bytes], words: list[str]
) -> None:
    refused(write(tmp_path, build(entries_of(members))), *words)


def test_a_bzip2_member_declaring_4_gib_is_refused_by_its_method_before_inflating(
    tmp_path: Path, members: dict[str, bytes]
) -> None:
    payload = bz2.compress(bytes(2**20))
    bomb = Entry("demo/bomb.bin", payload, 12, 0, len(payload), 4 * 2**30 - 2)  # the 32-bit maximum
    path = write(tmp_path, raw_zip([*entries_of(members), bomb]))
    assert path.stat().st_size < 10_000
    error = refused(path, "demo/bomb.bin", "bzip2", "zip method 12", "only stored and deflate are accepted")
    assert "deflate" in (error.hint or "")


def test_a_deflate_bomb_is_refused_by_its_declared_ratio(tmp_path: Path, members: dict[str, bytes]) -> None:
    bomb = Entry.of("demo/zeros.bin", bytes(16 * 2**20))
    error = refused(write(tmp_path, raw_zip([*entries_of(members), bomb])), "demo/zeros.bin", "declares", "200:1")
    assert "zip bomb" in error.message and "--max-compression-ratio" in (error.hint or "")


@pytest.mark.parametrize("declared", [1000, 2**20, None])
def test_a_deflate_bomb_lying_about_its_size_is_stopped_while_inflating(
    tmp_path: Path, members: dict[str, bytes], declared: int | None
) -> None:
    bomb = Entry.of("demo/zeros.bin", bytes(64 * 2**20))
    # Small enough to pass the declared-ratio check (None: right at the 200:1 cap): the stream must be stopped.
    declared = bomb.compressed_size * 200 if declared is None else declared
    bomb.size = declared
    path = write(tmp_path, raw_zip([*entries_of(members), bomb]))
    refused(path, "demo/zeros.bin", f"inflates to more than the {declared} bytes it declares")


def test_the_total_unpacked_size_and_member_count_are_capped(tmp_path: Path, members: dict[str, bytes]) -> None:
    extra = [Entry.of(f"demo/data{i}.bin", bytes(range(256)) * 2400, zipfile.ZIP_STORED) for i in range(2)]
    path = write(tmp_path, raw_zip([*entries_of(members), *extra]))
    refused(path, "unpacks to", "over the limit of 1000000", max_unpacked=1_000_000)
    refused(path, "members, more than the limit of 5", limits=ZipLimits(max_members=5))
    assert inspect_wheel(path).problems  # within the default limits it is read (the extra files are unrecorded)


def test_the_ratio_cap_and_floor_are_configurable(tmp_path: Path, members: dict[str, bytes]) -> None:
    text = Entry.of("demo/notes.txt", b"the same line again\n" * 100_000)  # ~2 MB at a ratio far over 50
    path = write(tmp_path, raw_zip([*entries_of(members), text]))
    refused(path, "demo/notes.txt", "over the compression ratio limit of 50:1", limits=ZipLimits(max_ratio=50))
    info = inspect_wheel(path, limits=ZipLimits(max_ratio=50, ratio_floor=4 * 2**20))
    assert any("demo/notes.txt is not listed in RECORD" in p for p in info.problems)


# --- the same members, written without a defect, pass ------------------------------------------------------


def test_members_written_field_by_field_read_back_without_problems(tmp_path: Path, members: dict[str, bytes]) -> None:
    assert inspect_wheel(write(tmp_path, raw_zip(entries_of(members)))).problems == []
    assert inspect_wheel(write(tmp_path, raw_zip(entries_of(members, zipfile.ZIP_STORED)))).problems == []
    assert inspect_wheel(write(tmp_path, raw_zip(entries_of(members), comment=b"built by hand"))).problems == []


class _Unseekable(io.RawIOBase):
    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.data += data
        return len(data)


def test_wheels_with_data_descriptors_or_zip64_headers_are_accepted(tmp_path: Path, members: dict[str, bytes]) -> None:
    stream = _Unseekable()  # zipfile writes data descriptors (flag bit 3) when it cannot seek back
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    assert inspect_wheel(write(tmp_path, bytes(stream.data))).problems == []
    path = tmp_path / WHEEL_NAME
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            with archive.open(name, "w", force_zip64=True) as member:
                member.write(data)
    assert inspect_wheel(path).problems == []


def test_a_forged_data_descriptor_is_refused(tmp_path: Path, members: dict[str, bytes]) -> None:
    stream = _Unseekable()
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    data = bytes(stream.data)
    crc = struct.pack("<I", zlib.crc32(members[MODULE]))
    at = data.index(b"PK\x07\x08" + crc)
    forged = data[: at + 4] + struct.pack("<I", 0) + data[at + 8 :]
    refused(write(tmp_path, forged), MODULE, "data descriptor disagrees")


def test_a_wheel_deflated_by_zlib_in_many_blocks_reads_the_same(tmp_path: Path, members: dict[str, bytes]) -> None:
    big = random.Random(22).randbytes(3 * 2**20)  # inflated and hashed in several 1 MiB chunks
    extra = {**members, "demo/data.bin": big}
    entries = entries_of(extra)
    info = inspect_wheel(write(tmp_path, raw_zip(entries)))
    assert [p for p in info.problems if "demo/data.bin" not in p] == []
    assert deflate(big)  # the helper and the reader agree on raw deflate
