"""Every refused upload is refused with a clear JSON error and leaves nothing stored."""

from __future__ import annotations

import io
import json
import pickle
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from sora_registry.testing import LiveServer, ParticleSpec, create_token, plugin_wheel, request, sha256_hex, upload

NOTHING = {"disk": [], "projects": [], "particles": 0}


def refused(reply, status: int, *words: str) -> dict:
    assert reply.status == status, reply.text
    body = reply.json()
    assert set(body) >= {"error", "hint"} and body["error"] and body["hint"], body
    text = json.dumps(body)
    for word in words:
        assert word in text, (word, body)
    return body


def test_a_valid_wheel_is_published(server: LiveServer, token: str, wheels: Path, stored: Callable) -> None:
    wheel = plugin_wheel(wheels, "demo-plugin", [ParticleSpec("enc")])
    reply = upload(server.url, wheel, token)
    assert reply.status == 201, reply.text
    assert reply.json() == {
        "project": "demo-plugin",
        "version": "1.0.0",
        "filename": wheel.name,
        "sha256": sha256_hex(wheel.read_bytes()),
        "size": wheel.stat().st_size,
        "url": f"/files/demo-plugin/{wheel.name}",
    }
    assert stored() == {
        "disk": ["files/demo-plugin", f"files/demo-plugin/{wheel.name}"],
        "projects": ["demo-plugin"],
        "particles": 1,
    }


@pytest.mark.parametrize(
    ("authorization", "words"),
    [
        (None, ["missing Authorization"]),
        ("Basic dXNlcjpwYXNz", ["Bearer"]),
        ("Bearer not-a-token", ["malformed"]),
        ("Bearer sora_" + "A" * 43, ["unknown or revoked"]),
    ],
)
def test_a_missing_or_wrong_token_is_401(
    server: LiveServer, token: str, wheels: Path, stored: Callable, authorization: str | None, words: list[str]
) -> None:
    wheel = plugin_wheel(wheels, "demo", [ParticleSpec("enc")])
    headers = {"Authorization": authorization} if authorization else {}
    reply = upload(server.url, wheel, None, extra_headers=headers)
    refused(reply, 401, *words)
    assert stored() == NOTHING


def test_a_revoked_token_is_401(server: LiveServer, wheels: Path, stored: Callable) -> None:
    secret = create_token(server.service, "bob")
    (record,) = server.service.catalog.tokens("bob")
    assert server.service.catalog.revoke_token(record.token_id)
    refused(upload(server.url, plugin_wheel(wheels, "demo", [ParticleSpec("enc")]), secret), 401, "revoked")
    assert stored() == NOTHING


def test_only_owners_may_upload_to_a_project(server: LiveServer, token: str, wheels: Path) -> None:
    assert upload(server.url, plugin_wheel(wheels / "1", "demo", [ParticleSpec("enc")]), token).status == 201
    mallory = create_token(server.service, "mallory")
    body = refused(
        upload(server.url, plugin_wheel(wheels / "2", "demo", [ParticleSpec("enc")], version="2.0"), mallory),
        403,
        "'mallory'",
        "'demo'",
        "owner add demo mallory",
    )
    assert "alice" in body["error"]
    assert [f.version for f in server.service.catalog.files("demo")] == ["1.0.0"]
    server.service.catalog.add_owner("demo", "mallory")
    assert (
        upload(server.url, plugin_wheel(wheels / "3", "demo", [ParticleSpec("enc")], version="2.0"), mallory).status
        == 201
    )


def test_a_published_version_cannot_be_overwritten(server: LiveServer, token: str, wheels: Path) -> None:
    first = plugin_wheel(wheels / "a", "demo", [ParticleSpec("enc", description="first")])
    assert upload(server.url, first, token).status == 201
    # The same filename with other bytes, and another wheel of the same version: both 409.
    changed = plugin_wheel(wheels / "b", "demo", [ParticleSpec("enc", description="changed")])
    refused(upload(server.url, changed, token), 409, "already published", "immutable")
    other_tag = wheels / "demo-1.0.0-py311-none-any.whl"
    other_tag.write_bytes(changed.read_bytes())
    refused(upload(server.url, other_tag, token), 409, "already has a wheel", first.name)
    served = request(f"{server.url}/files/demo/{first.name}")
    assert served.body == first.read_bytes()
    assert server.service.catalog.particle("demo", "enc")["description"] == "first"
    assert sorted(p.name for p in (server.service.settings.files_dir / "demo").iterdir()) == [first.name]


def test_an_sdist_may_follow_its_wheel_once(server: LiveServer, token: str, wheels: Path, tmp_path: Path) -> None:
    assert upload(server.url, plugin_wheel(wheels, "demo", [ParticleSpec("enc")]), token).status == 201
    sdist = write_sdist(tmp_path, "demo", "1.0.0")
    assert upload(server.url, sdist, token).status == 201
    refused(upload(server.url, sdist, token), 409, "already published")
    assert {f.packagetype for f in server.service.catalog.files("demo")} == {"bdist_wheel", "sdist"}


@pytest.mark.parametrize(
    ("filename", "words"),
    [
        ("../../etc/passwd.whl", ["path separator"]),
        ("..%2F..%2Fdemo-1.0.0-py3-none-any.whl", ["path separator"]),
        ("..demo-1.0.0-py3-none-any.whl", ["'..'"]),
        ("demo-1.0.0-py3-none-any.whl%00.whl", ["NUL"]),
        ("demo\\..\\x-1.0.0-py3-none-any.whl", ["path separator"]),
        (".demo-1.0.0-py3-none-any.whl", ["starts with '.'"]),
        ("demo-1.0.0.zip", ["neither a wheel"]),
        ("demo.whl", ["cannot be parsed"]),
        ("demo-1.0.0-py3-none-any.whl;rm", ["characters"]),
    ],
)
def test_unsafe_or_malformed_filenames_are_400(
    server: LiveServer, token: str, wheels: Path, stored: Callable, filename: str, words: list[str]
) -> None:
    wheel = plugin_wheel(wheels, "demo", [ParticleSpec("enc")])
    name = filename.replace("%2F", "/").replace("%00", "\x00")
    reply = upload(server.url, wheel, token, filename=name)
    refused(reply, 400, *words)
    assert stored() == NOTHING
    assert not list(server.service.settings.data_dir.parent.glob("etc*"))


def test_a_raw_traversal_path_in_the_url_is_refused(
    server: LiveServer, token: str, wheels: Path, stored: Callable
) -> None:
    data = plugin_wheel(wheels, "demo", [ParticleSpec("enc")]).read_bytes()
    headers = {"Authorization": f"Bearer {token}", "X-Content-SHA256": sha256_hex(data)}
    reply = request(f"{server.url}/api/v1/files/sub/../demo-1.0.0-py3-none-any.whl", "PUT", body=data, headers=headers)
    assert reply.status in (400, 404), reply.text
    assert stored() == NOTHING


def test_a_pickle_inside_a_wheel_is_422(server: LiveServer, token: str, wheels: Path, stored: Callable) -> None:
    payload = pickle.dumps({"weights": [1.0, 2.0]}, protocol=4)
    wheel = plugin_wheel(wheels, "demo", [ParticleSpec("enc")], extra_files={"demo/weights/enc/model.bin": payload})
    body = refused(upload(server.url, wheel, token), 422, "demo/weights/enc/model.bin", "pickle")
    assert any("safetensors" in p for p in body["problems"])
    assert stored() == NOTHING


def test_a_pickle_disguised_as_safetensors_is_422(
    server: LiveServer, token: str, wheels: Path, stored: Callable
) -> None:
    disguised = {"demo/weights/enc/model.safetensors": pickle.dumps([1, 2, 3], protocol=2)}
    wheel = plugin_wheel(wheels, "demo", [ParticleSpec("enc")], extra_files=disguised)
    refused(upload(server.url, wheel, token), 422, "demo/weights/enc/model.safetensors", "pickle")
    assert stored() == NOTHING


@pytest.mark.parametrize(
    ("manifest", "words"),
    [
        (b"{not json", ["sora_manifest.json", "not valid JSON"]),
        (b'{"format": 99, "particles": {}}', ["format 99"]),
        (
            json.dumps(
                {"format": 1, "particles": {"enc": {"kind": "video_generator", "inputs": {"x": {"dtype": "f"}}}}}
            ).encode(),
            ["'x'", "dtype"],
        ),
    ],
)
def test_a_malformed_manifest_is_422(
    server: LiveServer, token: str, wheels: Path, stored: Callable, manifest: bytes, words: list[str]
) -> None:
    wheel = plugin_wheel(wheels, "demo", [ParticleSpec("enc")], manifest=manifest)
    body = refused(upload(server.url, wheel, token), 422, *words)
    assert body["problems"]
    assert stored() == NOTHING


def test_an_oversized_upload_is_413_before_reading(
    server: LiveServer, token: str, wheels: Path, stored: Callable
) -> None:
    big = {"demo/data.txt": bytes(range(256)) * 8000}  # ~2 MB of incompressible-enough data, over the 1 MB limit
    wheel = plugin_wheel(wheels, "demo", [ParticleSpec("enc")], extra_files=big)
    wheel.write_bytes(wheel.read_bytes() + b"\0" * 1_100_000)
    refused(upload(server.url, wheel, token), 413, "1000000 bytes", "--max-upload-size")
    assert stored() == NOTHING


def test_an_oversized_chunked_upload_is_413_while_streaming(
    server: LiveServer, token: str, wheels: Path, stored: Callable
) -> None:
    wheel = plugin_wheel(wheels, "demo", [ParticleSpec("enc")])
    wheel.write_bytes(wheel.read_bytes() + b"\0" * 1_100_000)
    refused(upload(server.url, wheel, token, chunked=True), 413, "more than 1000000 bytes")
    assert stored() == NOTHING


def test_a_chunked_upload_within_the_limit_is_published(server: LiveServer, token: str, wheels: Path) -> None:
    assert upload(server.url, plugin_wheel(wheels, "demo", [ParticleSpec("enc")]), token, chunked=True).status == 201


@pytest.mark.parametrize(
    ("sha", "status", "words"),
    [
        ("0" * 64, 400, ["sha256 of the uploaded", "X-Content-SHA256 says"]),
        ("", 400, ["missing X-Content-SHA256"]),
        ("xyz", 400, ["not 64 hex digits"]),
    ],
)
def test_a_wrong_or_missing_checksum_is_400(
    server: LiveServer, token: str, wheels: Path, stored: Callable, sha: str, status: int, words: list[str]
) -> None:
    refused(upload(server.url, plugin_wheel(wheels, "demo", [ParticleSpec("enc")]), token, sha256=sha), status, *words)
    assert stored() == NOTHING


def test_metadata_must_agree_with_the_filename(server: LiveServer, token: str, wheels: Path, stored: Callable) -> None:
    wheel = plugin_wheel(wheels, "demo", [ParticleSpec("enc")])
    renamed = wheels / "other-1.0.0-py3-none-any.whl"
    renamed.write_bytes(wheel.read_bytes())
    refused(upload(server.url, renamed, token), 422, "other")
    bumped = wheels / "demo-2.0.0-py3-none-any.whl"
    bumped.write_bytes(wheel.read_bytes())
    refused(upload(server.url, bumped, token), 422, "2.0.0")
    assert stored() == NOTHING


def test_a_wheel_without_a_licence_or_a_broken_archive_is_422(
    server: LiveServer, token: str, wheels: Path, stored: Callable
) -> None:
    refused(
        upload(server.url, plugin_wheel(wheels, "demo", [ParticleSpec("enc")], license=None), token), 422, "licence"
    )
    garbage = wheels / "junk-1.0.0-py3-none-any.whl"
    garbage.write_bytes(b"this is not a zip archive")
    refused(upload(server.url, garbage, token), 422, "junk-1.0.0-py3-none-any.whl", "not a readable wheel")
    assert stored() == NOTHING


def test_an_sdist_with_a_pickle_is_422(server: LiveServer, token: str, tmp_path: Path, stored: Callable) -> None:
    sdist = write_sdist(tmp_path, "demo", "1.0.0", extra={"demo-1.0.0/model.pkl": pickle.dumps([1])})
    refused(upload(server.url, sdist, token), 422, "model.pkl", "pickle")
    assert stored() == NOTHING


def test_errors_on_other_routes_are_json(server: LiveServer) -> None:
    reply = request(f"{server.url}/api/v1/files/demo-1.0.0-py3-none-any.whl", "POST", body=b"x")
    refused(reply, 405, "POST", "PUT /api/v1/files/FILENAME")
    refused(request(f"{server.url}/api/v1/nothing"), 404, "/api/v1/nothing")


def write_sdist(directory: Path, dist: str, version: str, extra: dict[str, bytes] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{dist}-{version}.tar.gz"
    members = {f"{dist}-{version}/PKG-INFO": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n".encode()}
    members.update(extra or {})
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path
