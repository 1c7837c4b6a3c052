"""Issue 22, class 5: odd RECORD, METADATA, entry points and weights JSON inside a wheel, hostile sdists, and
``sora check`` on all of them: a problem or a ``PackageError`` naming the member, never a crash.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import struct
import tarfile
from pathlib import Path

import pytest

from sora_core.cli.main import main
from sora_core.errors import PackageError
from sora_core.hostile_archives import Entry, entries_of, raw_zip, rerecord, wheel_members, with_entry
from sora_core.package_check import check_package
from sora_core.synthetic import write_wheel
from sora_core.wheels import inspect_sdist, inspect_wheel
from sora_core.zip_safety import ZipLimits

INFO = "demo-1.0.0.dist-info"


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return wheel_members(write_wheel(tmp_path_factory.mktemp("valid"), "demo", ["enc"]))


def wheel(directory: Path, members: dict[str, bytes], *, record: bool = True) -> Path:
    path = directory / "demo-1.0.0-py3-none-any.whl"
    path.write_bytes(raw_zip(entries_of(rerecord(members) if record else members)))
    return path


def problems(path: Path) -> str:
    return "\n".join(inspect_wheel(path).problems)


# --- RECORD, METADATA, entry points -----------------------------------------------------------------------

RECORD_CASES = [
    ("non-utf8", b"\xff\xfe not utf-8", [f"{INFO}/RECORD", "is not UTF-8 text"]),
    ("nul-bytes", b"demo/__init__.py,sha256=\x00\x00,0\n", ["demo/__init__.py", "RECORD"]),
    ("huge-field", b"x" * 200_000 + b",sha256=abc,1\n", [f"{INFO}/RECORD"]),
    ("empty", b"", ["demo/__init__.py is not listed in RECORD"]),
    ("one-column-rows", b"demo/__init__.py\ndemo/particles.py\n", ["demo/__init__.py is not listed in RECORD"]),
    ("md5-hashes", b"demo/__init__.py,md5=abc,0\n", ["RECORD lists demo/__init__.py without a sha256"]),
    ("not-base64", b"demo/__init__.py,sha256=!!!not base64!!!,0\n", ["demo/__init__.py does not match its sha256"]),
    ("unterminated-quote", b'"demo/__init__.py,sha256=abc,0\n', ["demo/__init__.py is not listed in RECORD"]),
]


@pytest.mark.parametrize(("data", "words"), [c[1:] for c in RECORD_CASES], ids=[c[0] for c in RECORD_CASES])
def test_an_odd_record_is_a_problem(tmp_path: Path, members: dict[str, bytes], data: bytes, words: list[str]) -> None:
    text = problems(wheel(tmp_path, {**members, f"{INFO}/RECORD": data}, record=False))
    for word in words:
        assert word in text, (word, text)


METADATA_CASES = [
    ("empty", b"", ["METADATA names ''", "no licence declared"]),
    ("binary-junk", bytes(range(1, 32)) * 10, ["METADATA names"]),
    ("non-ascii-name", "Name: démo\nVersion: 1.0.0\nLicense: MIT\n".encode(), ["METADATA names 'démo'"]),
    ("folded-name", b"Name: de\n mo\nVersion: 1.0.0\nLicense: MIT\n", ["METADATA names"]),
    ("no-version", b"Name: demo\nLicense: MIT\n", ["METADATA has version ''"]),
    ("bad-version", b"Name: demo\nVersion: not a version!\nLicense: MIT\n", ["METADATA has version 'not a version!'"]),
    ("many-headers", b"Name: demo\nVersion: 1.0.0\n" + b"Classifier: X\n" * 50_000, ["no licence declared"]),
    ("header-without-colon", b"Name demo\nVersion 1.0.0\n", ["METADATA names"]),
]


@pytest.mark.parametrize(("data", "words"), [c[1:] for c in METADATA_CASES], ids=[c[0] for c in METADATA_CASES])
def test_odd_metadata_is_a_problem(tmp_path: Path, members: dict[str, bytes], data: bytes, words: list[str]) -> None:
    text = problems(wheel(tmp_path, {**members, f"{INFO}/METADATA": data}))
    for word in words:
        assert word in text, (word, text)


def test_metadata_that_is_not_utf8_or_missing_is_a_package_error(tmp_path: Path, members: dict[str, bytes]) -> None:
    path = wheel(tmp_path, {**members, f"{INFO}/METADATA": b"Name: d\xe9mo\n"})
    with pytest.raises(PackageError) as caught:
        inspect_wheel(path)
    assert f"{INFO}/METADATA is not UTF-8 text" in caught.value.message and caught.value.hint
    path = wheel(tmp_path, {k: v for k, v in members.items() if not k.endswith("METADATA")})
    with pytest.raises(PackageError) as caught:
        inspect_wheel(path)
    assert f"has no {INFO}/METADATA" in caught.value.message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (b"[sora.particles]\nenc = :Enc\n", ["/sora_manifest.json is missing"]),
        (b"[sora.particles]\nenc = ..evil:Enc\n", ["/sora_manifest.json is missing"]),
        (b"[sora.particles]\nenc = demo.particles:Enc\nenc2 = other:X\n", ["other/sora_manifest.json is missing"]),
        (b"[sora.particles]\n\xff\xfe = \xff\n", ["sora_manifest.json is missing"]),
        (b"[sora.particles]\nnot a line\n[other]\n", ["no [project.entry-points"]),
        (b"\x00" * 100, ["no [project.entry-points"]),
    ],
    ids=["empty-module", "dots", "unknown-package", "non-utf8", "junk-lines", "nul-bytes"],
)
def test_odd_entry_points_are_problems(
    tmp_path: Path, members: dict[str, bytes], text: bytes, words: list[str]
) -> None:
    found = problems(wheel(tmp_path, {**members, f"{INFO}/entry_points.txt": text}))
    for word in words:
        assert word in found, (word, found)


# --- JSON inside weights directories -------------------------------------------------------------------------


def _weights(config: bytes, manifest: bytes | None = None, tensor: bytes | None = None) -> dict[str, bytes]:
    data = struct.pack("<2f", 1.0, 2.0)
    header = json.dumps({"weight": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    files = {"config.json": config, "model.safetensors": tensor or struct.pack("<Q", len(header)) + header + data}
    listed = {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in files.items()}
    members = {f"demo/weights/enc/{name}": data for name, data in files.items()}
    members["demo/weights/enc/manifest.json"] = manifest or json.dumps({"format": 1, "files": listed}).encode()
    return members


DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    ("files", "words"),
    [
        (_weights(DEEP), ["demo/weights/enc/config.json nests JSON 100000 levels deep"]),
        (_weights(b"{not json"), ["demo/weights/enc/config.json", "not valid JSON"]),
        (_weights(b"{}", manifest=DEEP), ["demo/weights/enc/manifest.json is not a valid weights manifest", "nests"]),
        (_weights(b"{}", manifest=b'{"format": 1, "files": []}'), ["manifest.json is not a valid weights manifest"]),
        (_weights(b"{}", manifest=b'{"format": 1, "files": {"a": 5}}'), ["is not a valid weights manifest"]),
        (
            _weights(b"{}", tensor=struct.pack("<Q", 200_000) + DEEP[:100_000] + DEEP[-100_000:]),
            ["demo/weights/enc/model.safetensors"],
        ),
        (
            _weights(
                b"{}",
                tensor=struct.pack("<Q", 40) + b'{"w": {"dtype": ["F32"], "shape": [], "data_offsets": [0, 0]}}'[:40],
            ),
            ["demo/weights/enc/model.safetensors"],
        ),
    ],
    ids=[
        "config-deep",
        "config-broken",
        "manifest-deep",
        "manifest-files-list",
        "manifest-entry-number",
        "header-deep",
        "header-odd",
    ],
)
def test_weights_json_inside_a_wheel_is_checked_without_crashing(
    tmp_path: Path, members: dict[str, bytes], files: dict[str, bytes], words: list[str]
) -> None:
    text = problems(wheel(tmp_path, {**members, **files}))
    for word in words:
        assert word in text, (word, text)


# --- sdists -------------------------------------------------------------------------------------------------


def _sdist_tar(extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in {"demo-1.0.0/PKG-INFO": b"Name: demo\nVersion: 1.0.0\n", **(extra or {})}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


SDIST_CASES = [
    ("junk-appended", _gzip(_sdist_tar()) + b"junk", ["bytes after the end of its gzip stream"]),
    ("second-gzip-appended", _gzip(_sdist_tar()) + _gzip(_sdist_tar()), ["bytes after the end of its gzip stream"]),
    ("zip-prepended", raw_zip([Entry.of("x.py", b"x")]) + _gzip(_sdist_tar()), ["does not start with a gzip header"]),
    ("not-gzip", _sdist_tar(), ["does not start with a gzip header"]),
    ("empty", b"", ["does not start with a gzip header"]),
    ("truncated", _gzip(_sdist_tar())[:-20], ["truncated"]),
    ("corrupt", _gzip(_sdist_tar())[:10] + b"\x07" * 100, ["corrupt gzip data"]),
    (
        "member-after-tar-end",
        _gzip(_sdist_tar() + _sdist_tar({"demo-1.0.0/hidden.py": b"x"})),
        ["after the end of its tar"],
    ),
    ("gzip-bomb", _gzip(_sdist_tar() + bytes(64 * 2**20)), ["inflates to more than 200 times", "gzip bomb"]),
    ("gzip-of-junk", _gzip(b"not a tar archive" * 100), ["is not a readable .tar.gz sdist"]),
]


@pytest.mark.parametrize(("data", "words"), [c[1:] for c in SDIST_CASES], ids=[c[0] for c in SDIST_CASES])
def test_hostile_sdists_are_package_errors(tmp_path: Path, data: bytes, words: list[str]) -> None:
    path = tmp_path / "demo-1.0.0.tar.gz"
    path.write_bytes(data)
    with pytest.raises(PackageError) as caught:
        inspect_sdist(path)
    for word in words:
        assert word in caught.value.message, (word, caught.value.message)
    assert str(path) in caught.value.message and caught.value.hint


def test_a_plain_sdist_passes_and_the_size_cap_applies(tmp_path: Path) -> None:
    path = tmp_path / "demo-1.0.0.tar.gz"
    path.write_bytes(_gzip(_sdist_tar({"demo-1.0.0/data.txt": bytes(range(256)) * 4000})))
    assert inspect_sdist(path).problems == []
    with pytest.raises(PackageError, match="unpacks to more than 100000 bytes"):
        inspect_sdist(path, limits=ZipLimits(max_unpacked=100_000))


# --- sora check: the same wheels are failed checks, exit 1, no traceback ------------------------------------

CHECK_CASES = {
    "junk-appended": lambda m: raw_zip(entries_of(m)) + b"junk",
    "bad-crc": lambda m: raw_zip(with_entry(entries_of(m), "demo/particles.py", crc=1)),
    "deflate64": lambda m: raw_zip(with_entry(entries_of(m), "demo/particles.py", method=9)),
    "encrypted": lambda m: raw_zip(with_entry(entries_of(m), "demo/particles.py", flags=1)),
    "corrupt-deflate": lambda m: raw_zip(
        with_entry(entries_of(m), "demo/particles.py", payload=b"\x07" * 9, compressed_size=9)
    ),
    "templates-5": lambda m: raw_zip(entries_of(rerecord({**m, "demo/sora_manifest.json": _manifest(m, templates=5)}))),
    "shape-5": lambda m: raw_zip(entries_of(rerecord({**m, "demo/sora_manifest.json": _shape_5(m)}))),
    "deep-manifest": lambda m: raw_zip(entries_of(rerecord({**m, "demo/sora_manifest.json": DEEP}))),
}


def _manifest(members: dict[str, bytes], **changes: object) -> bytes:
    return json.dumps({**json.loads(members["demo/sora_manifest.json"]), **changes}).encode()


def _shape_5(members: dict[str, bytes]) -> bytes:
    data = json.loads(members["demo/sora_manifest.json"])
    data["particles"]["enc"]["inputs"]["condition"]["shape"] = 5
    return json.dumps(data).encode()


CHECK_WORDS = {
    "junk-appended": "bytes follow its end-of-central-directory record",
    "bad-crc": "'demo/particles.py' fails its CRC check",
    "deflate64": "'demo/particles.py' is compressed with deflate64",
    "encrypted": "'demo/particles.py' is encrypted",
    "corrupt-deflate": "'demo/particles.py' holds corrupt deflate data",
    "templates-5": "field 'templates' must be an array, not a number",
    "shape-5": "input port 'condition': port spec field 'shape' must be a string",
    "deep-manifest": "demo/sora_manifest.json nests JSON 100000 levels deep",
}


@pytest.mark.parametrize("case", sorted(CHECK_CASES))
def test_sora_check_reports_a_hostile_wheel_as_a_failed_check(
    tmp_path: Path, members: dict[str, bytes], case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "demo-1.0.0-py3-none-any.whl"
    path.write_bytes(CHECK_CASES[case](members))
    report = check_package(path, conformance=False)
    assert not report.ok
    assert any(CHECK_WORDS[case] in item.detail for item in report.failures), report.failures
    code = main(["check", str(path), "--no-conformance", "--json"])
    out, err = capsys.readouterr()
    assert code == 1, err
    checks = json.loads(out)["checks"]
    assert any(CHECK_WORDS[case] in c["detail"] and not c["passed"] for c in checks), checks
    assert "unexpected" not in err and "Traceback" not in err


def test_empty_members_and_directory_entries_read_cleanly(tmp_path: Path, members: dict[str, bytes]) -> None:
    assert problems(wheel(tmp_path, members)) == ""
    path = tmp_path / "demo-1.0.0-py3-none-any.whl"
    entries = entries_of(rerecord({**members, "demo/empty.txt": b""}))
    path.write_bytes(raw_zip([Entry.of("demo/", b"", 0), *entries]))
    assert problems(path) == ""
