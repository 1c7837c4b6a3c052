"""Reading built plugins without installing them: what sora check and the registry refuse, and why."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from sora_core.errors import PackageError
from sora_core.synthetic import write_wheel
from sora_core.wheels import inspect_sdist, inspect_wheel, parse_package_filename


def safetensors_bytes(values: list[float]) -> bytes:
    data = struct.pack(f"<{len(values)}f", *values)
    header = json.dumps({"weight": {"dtype": "F32", "shape": [len(values)], "data_offsets": [0, len(data)]}}).encode()
    return struct.pack("<Q", len(header)) + header + data


def weights_dir(files: dict[str, bytes], *, tamper: str | None = None) -> dict[str, bytes]:
    """A pretrained directory's members under ``demo/weights/enc/``, with ``manifest.json`` listing their hashes."""
    listed = {
        name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        for name, data in files.items()
        if name != tamper
    }
    if tamper:
        listed[tamper] = {"sha256": "0" * 64, "size": len(files[tamper])}
    members = {f"demo/weights/enc/{name}": data for name, data in files.items()}
    members["demo/weights/enc/manifest.json"] = json.dumps({"format": 1, "files": listed}).encode()
    return members


def problems_of(path: Path) -> str:
    return "\n".join(inspect_wheel(path).problems)


def test_a_valid_plugin_wheel_is_read_without_problems(tmp_path: Path) -> None:
    config = json.dumps({"format": 1, "particle": "demo.particles:Enc", "kind": "video_generator", "config": {}})
    weights = weights_dir({"config.json": config.encode(), "model.safetensors": safetensors_bytes([1.0, 2.0])})
    info = inspect_wheel(write_wheel(tmp_path, "demo", ["enc", "dec"], version="1.2.0", extra_files=weights))
    assert info.problems == []
    assert (info.name, info.version, info.license) == ("demo", "1.2.0", "Apache-2.0")
    assert sorted(p.full_name for p in info.particles) == ["demo:dec", "demo:enc"]
    assert info.particles[0].kind == "video_generator"
    stored = weights["demo/weights/enc/model.safetensors"]
    assert [(w.path, w.size) for w in info.weight_files] == [("demo/weights/enc/model.safetensors", len(stored))]
    expected = hashlib.sha256(stored).hexdigest()
    assert info.weight_files[0].sha256 == expected
    assert info.sha256 == hashlib.sha256(info.path.read_bytes()).hexdigest()
    assert json.loads(json.dumps(info.to_dict()))["particles"][0]["distribution"] == "demo"


@pytest.mark.parametrize(
    ("member", "data"),
    [
        ("demo/weights/model.pt", b"anything"),
        ("demo/checkpoint.ckpt", b"anything"),
        ("demo/data.dat", pickle.dumps({"a": 1}, protocol=4)),
        ("demo/innocent.json", pickle.dumps([1], protocol=2)),
        ("demo/weights.safetensors.bak", b"PK\x03\x04torch.save archive"),
    ],
)
def test_pickle_files_anywhere_are_refused_naming_the_member(tmp_path: Path, member: str, data: bytes) -> None:
    text = problems_of(write_wheel(tmp_path, "demo", ["enc"], extra_files={member: data}))
    assert member in text
    assert "pickle" in text and "safetensors" in text


def test_unsafe_member_names_are_refused(tmp_path: Path) -> None:
    text = problems_of(write_wheel(tmp_path, "demo", ["enc"], extra_files={"../escape.py": b"print(1)"}))
    assert "'../escape.py' has an unsafe path" in text


def test_a_member_edited_after_build_fails_its_record_hash(tmp_path: Path) -> None:
    original = write_wheel(tmp_path / "a", "demo", ["enc"])
    tampered = tmp_path / original.name
    with zipfile.ZipFile(original) as source, zipfile.ZipFile(tampered, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            target.writestr(item, data + b"\nimport os" if item.filename == "demo/particles.py" else data)
    assert "demo/particles.py does not match its sha256 in RECORD" in problems_of(tampered)


def test_no_licence_is_a_problem_with_the_fix(tmp_path: Path) -> None:
    text = problems_of(write_wheel(tmp_path, "demo", ["enc"], license=None))
    assert "no licence declared" in text and 'license = "Apache-2.0"' in text


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        (b"{not json", "demo/sora_manifest.json is not valid JSON"),
        (json.dumps({"format": 99}).encode(), "has format 99"),
        (json.dumps({"format": 1, "distribution": "demo", "particles": {}}).encode(), "not described"),
    ],
)
def test_a_malformed_manifest_is_refused(tmp_path: Path, manifest: bytes, expected: str) -> None:
    text = problems_of(write_wheel(tmp_path, "demo", ["enc"], manifest=manifest))
    assert expected in text
    assert "sora manifest DIST --write" in text


def test_weights_that_do_not_match_their_manifest_are_refused(tmp_path: Path) -> None:
    files = {"model.safetensors": safetensors_bytes([1.0])}
    text = problems_of(
        write_wheel(tmp_path, "demo", ["enc"], extra_files=weights_dir(files, tamper="model.safetensors"))
    )
    assert "demo/weights/enc/model.safetensors" in text and "does not match" in text


def test_safetensors_without_a_hash_manifest_or_with_a_broken_header_are_refused(tmp_path: Path) -> None:
    text = problems_of(write_wheel(tmp_path / "a", "demo", ["enc"], extra_files={"demo/w/x.safetensors": b"\0" * 4}))
    assert "demo/w/ holds safetensors but no manifest.json" in text
    truncated = weights_dir({"model.safetensors": safetensors_bytes([1.0, 2.0])[:-4]})
    text = problems_of(write_wheel(tmp_path / "b", "demo", ["enc"], extra_files=truncated))
    assert "demo/weights/enc/model.safetensors is not valid safetensors" in text


def test_a_wheel_without_particles_is_not_a_plugin(tmp_path: Path) -> None:
    assert "no [project.entry-points" in problems_of(write_wheel(tmp_path, "demo", []))


def test_unreadable_wheels_raise_package_errors_naming_the_file(tmp_path: Path) -> None:
    not_zip = tmp_path / "demo-1.0-py3-none-any.whl"
    not_zip.write_bytes(b"hello")
    with pytest.raises(PackageError, match=r"demo-1\.0-py3-none-any\.whl is not a readable wheel"):
        inspect_wheel(not_zip)
    big = write_wheel(tmp_path / "big", "demo", ["enc"], extra_files={"demo/blob.txt": b"x" * 10_000})
    with pytest.raises(PackageError, match="over the limit"):
        inspect_wheel(big, max_unpacked=5_000)
    renamed = tmp_path / "other-1.0-py3-none-any.whl"
    renamed.write_bytes(write_wheel(tmp_path / "c", "demo", ["enc"]).read_bytes())
    with pytest.raises(PackageError, match=r"no other-1\.0\.dist-info directory"):
        inspect_wheel(renamed)


@pytest.mark.parametrize(
    "filename", ["../demo-1.0.tar.gz", "a/demo-1.0-py3-none-any.whl", "demo.zip", "demo-1.0-py3.whl", "x\x00.whl", ""]
)
def test_bad_file_names_are_refused(filename: str) -> None:
    with pytest.raises(PackageError, match="file"):
        parse_package_filename(filename)


def test_file_names_parse_to_normalised_project_and_version() -> None:
    assert parse_package_filename("My_Plugin-1.0.0-py3-none-any.whl") == ("my-plugin", "1.0.0", "wheel")
    assert parse_package_filename("my_plugin-2.0rc1.tar.gz") == ("my-plugin", "2.0rc1", "sdist")


def make_sdist(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            item = tarfile.TarInfo(name)
            item.size = len(data)
            archive.addfile(item, io.BytesIO(data))
        for name, target in (links or {}).items():
            item = tarfile.TarInfo(name)
            item.type, item.linkname = tarfile.SYMTYPE, target
            archive.addfile(item)
    return path


def test_sdists_are_checked_for_pickles_paths_links_and_pkg_info(tmp_path: Path) -> None:
    good = make_sdist(tmp_path / "demo-1.0.tar.gz", {"demo-1.0/PKG-INFO": b"Name: demo\n", "demo-1.0/a.py": b""})
    assert inspect_sdist(good).problems == []
    bad = make_sdist(
        tmp_path / "demo-2.0.tar.gz",
        {"demo-2.0/model.bin": b"x", "demo-2.0/data": pickle.dumps(1, protocol=3), "demo-2.0/../../etc": b""},
        links={"demo-2.0/link": "/etc/passwd"},
    )
    text = "\n".join(inspect_sdist(bad).problems)
    for expected in ("model.bin is a pickle-format file", "demo-2.0/data holds pickle", "unsafe path", "is a link"):
        assert expected in text
    assert "no PKG-INFO" in text
    broken = tmp_path / "demo-3.0.tar.gz"
    broken.write_bytes(good.read_bytes()[:40])
    with pytest.raises(PackageError, match=r"demo-3\.0\.tar\.gz"):
        inspect_sdist(broken)
