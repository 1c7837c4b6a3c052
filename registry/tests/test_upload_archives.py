"""Issue 22, classes 3 to 6 at the registry: hostile wheels and sdists are 4xx naming the member and field,
refused by the archive caps (not by time), with no catalog row and no blob; the server stays responsive.

Most tests run the app in process (starlette's TestClient, which re-raises any server exception, so a
500 fails loudly); the responsiveness test runs a real uvicorn server.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import random
import tarfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sora_registry.uploads
from sora_registry.app import create_app
from sora_registry.cli import build_parser
from sora_registry.names import parse_filename
from sora_registry.service import RegistryService
from sora_registry.settings import Settings
from sora_registry.testing import LiveServer, ParticleSpec, create_token, plugin_wheel, request, sha256_hex, upload
from starlette.testclient import TestClient

from sora_core.hostile_archives import Entry, entries_of, raw_zip, rerecord, wheel_members, with_entry

WHEEL = "demo-1.0.0-py3-none-any.whl"
MODULE = "demo/particles.py"
NOTHING = {"disk": [], "projects": [], "particles": 0}


@pytest.fixture
def token(in_process_token: str) -> str:
    return in_process_token


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The members of a valid plugin wheel ``demo`` with one particle ``enc`` and default weights."""
    spec = ParticleSpec("enc", weights={"model.safetensors": [0.5, 1.5]})
    return wheel_members(plugin_wheel(tmp_path_factory.mktemp("valid"), "demo", [spec]))


def stored(registry: RegistryService) -> dict[str, Any]:
    data = registry.settings.data_dir
    disk = sorted(str(p.relative_to(data)) for sub in ("files", "tmp") for p in (data / sub).rglob("*"))
    return {"disk": disk, "projects": registry.catalog.projects(), "particles": registry.catalog.counts()["particles"]}


def put(client: TestClient, data: bytes, token: str, filename: str = WHEEL) -> Any:
    headers = {"Authorization": f"Bearer {token}", "X-Content-SHA256": sha256_hex(data)}
    return client.put(f"/api/v1/files/{filename}", content=data, headers=headers)


def refused(reply: Any, status: int, *words: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["error"] and body["hint"] and body.get("problems"), body
    text = json.dumps(body)
    for word in words:
        assert word in text, (word, body)
    assert "/tmp" not in body["error"] and "upload-" not in body["error"]  # the filename, not the staging path
    return body


def _manifest(members: dict[str, bytes], change: Callable[[dict[str, Any]], None]) -> dict[str, bytes]:
    data = json.loads(members["demo/sora_manifest.json"])
    change(data)
    return rerecord({**members, "demo/sora_manifest.json": json.dumps(data).encode()})


def _particle(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["particles"]["enc"].__setitem__(key, value)


def _port(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["particles"]["enc"]["inputs"]["condition"].__setitem__(key, value)


DEEP = b"[" * 100_000 + b"]" * 100_000
CONFIG = "demo/weights/enc/config.json"
WEIGHTS_MANIFEST = "demo/weights/enc/manifest.json"


def _relisted(members: dict[str, bytes], name: str, data: bytes) -> dict[str, bytes]:
    """``members`` with weights file ``name`` replaced and listed correctly in the weights manifest."""
    import hashlib

    changed = {**members, name: data}
    listing = json.loads(members[WEIGHTS_MANIFEST])
    listing["files"][name.rsplit("/", 1)[1]] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    changed[WEIGHTS_MANIFEST] = json.dumps(listing).encode()
    return rerecord(changed)


# (id, build(members) -> wheel bytes, words the 422 must contain)
HOSTILE: list[tuple[str, Callable[[dict[str, bytes]], bytes], list[str]]] = [
    # class 3: polyglots
    ("zip-prepended", lambda m: raw_zip([Entry.of("evil.py", b"x")]) + raw_zip(entries_of(m)), ["does not end where"]),
    ("zip-prepended-fixed", lambda m: raw_zip(entries_of(m), prefix=raw_zip([Entry.of("e.py", b"x")])), ["unlisted"]),
    (
        "multipart-wrapped",
        lambda m: b"--b\r\nContent-Type: application/zip\r\n\r\n" + raw_zip(entries_of(m)) + b"\r\n--b--\r\n",
        ["does not start with a zip local file header"],
    ),
    ("junk-appended", lambda m: raw_zip(entries_of(m)) + b"junk", ["bytes follow its end-of-central-directory"]),
    ("local-header-lies", lambda m: raw_zip(with_entry(entries_of(m), MODULE, local={"crc": 7})), [MODULE, "disagree"]),
    ("duplicate-member", lambda m: raw_zip([*entries_of(m), Entry.of(MODULE, b"evil")]), ["two members named"]),
    # class 4: bombs
    (
        "bzip2-4gib",
        lambda m: raw_zip([*entries_of(m), Entry("demo/b.bin", bz2.compress(bytes(2**20)), 12, 0, 45, 2**32 - 2)]),
        ["demo/b.bin", "bzip2", "only stored and deflate are accepted"],
    ),
    (
        "deflate-ratio",
        lambda m: raw_zip([*entries_of(m), Entry.of("demo/z.bin", bytes(32 * 2**20))]),
        ["demo/z.bin", "declares 33554432 bytes", "over the compression ratio limit of 200:1"],
    ),
    (
        "deflate-lying-size",
        lambda m: raw_zip([*entries_of(m), _lying(Entry.of("demo/z.bin", bytes(32 * 2**20)))]),
        ["demo/z.bin", "inflates to more than the 5000 bytes it declares"],
    ),
    # class 5: members that used to be 500s
    ("bad-crc", lambda m: raw_zip(with_entry(entries_of(m), MODULE, crc=1)), [MODULE, "fails its CRC check"]),
    ("encrypted", lambda m: raw_zip(with_entry(entries_of(m), MODULE, flags=1)), [MODULE, "is encrypted"]),
    ("deflate64", lambda m: raw_zip(with_entry(entries_of(m), MODULE, method=9)), [MODULE, "deflate64"]),
    (
        "corrupt-deflate",
        lambda m: raw_zip(with_entry(entries_of(m), MODULE, payload=b"\x07" * 9, compressed_size=9)),
        [MODULE, "corrupt deflate data"],
    ),
    ("templates-5", lambda m: raw_zip(entries_of(_manifest(m, lambda d: d.update(templates=5)))), ["'templates'"]),
    (
        "port-shape-5",
        lambda m: raw_zip(entries_of(_manifest(m, _port("shape", 5)))),
        ["particle 'enc'", "input port 'condition'", "'shape' must be a string"],
    ),
    (
        "inputs-a-list",
        lambda m: raw_zip(entries_of(_manifest(m, _particle("inputs", [{"dtype": "float32"}])))),
        ["particle 'enc'", "field 'inputs' must be an object, not an array"],
    ),
    (
        "kind-a-number",
        lambda m: raw_zip(entries_of(_manifest(m, _particle("kind", 5)))),
        ["particle 'enc'", "field 'kind' must be a non-empty string, not a number"],
    ),
    (
        "manifest-100k-deep",
        lambda m: raw_zip(entries_of(rerecord({**m, "demo/sora_manifest.json": DEEP}))),
        ["demo/sora_manifest.json nests JSON 100000 levels deep"],
    ),
    (
        "weights-config-100k-deep",
        lambda m: raw_zip(entries_of(_relisted(m, CONFIG, DEEP))),
        [CONFIG, "nests JSON 100000 levels deep"],
    ),
    (
        "weights-manifest-100k-deep",
        lambda m: raw_zip(entries_of(rerecord({**m, WEIGHTS_MANIFEST: DEEP}))),
        [WEIGHTS_MANIFEST, "is not a valid weights manifest", "nests JSON"],
    ),
    (
        "record-huge-field",
        lambda m: raw_zip(entries_of({**m, "demo-1.0.0.dist-info/RECORD": b"x" * 200_000 + b",sha256=a,1\n"})),
        ["demo-1.0.0.dist-info/RECORD"],
    ),
    (
        "metadata-not-utf8",
        lambda m: raw_zip(entries_of(rerecord({**m, "demo-1.0.0.dist-info/METADATA": b"Name: d\xe9mo\n"}))),
        ["demo-1.0.0.dist-info/METADATA is not UTF-8 text"],
    ),
    # class 6: manifests that would break pages
    (
        "config-properties-a-list",
        lambda m: raw_zip(entries_of(_manifest(m, _particle("config_schema", {"properties": ["size"]})))),
        ["particle 'enc'", "field 'config_schema.properties' must be an object", "not an array"],
    ),
    (
        "config-properties-a-string",
        lambda m: raw_zip(entries_of(_manifest(m, _particle("config_schema", {"properties": "size"})))),
        ["particle 'enc'", "field 'config_schema.properties' must be an object", "not a string"],
    ),
    (
        "config-property-a-number",
        lambda m: raw_zip(entries_of(_manifest(m, _particle("config_schema", {"properties": {"size": 5}})))),
        ["particle 'enc'", "field 'config_schema.properties.size' must be a JSON Schema object"],
    ),
    (
        "default-config-a-list",
        lambda m: raw_zip(entries_of(_manifest(m, _particle("default_config", [1])))),
        ["particle 'enc'", "field 'default_config' must be an object"],
    ),
]


def _lying(entry: Entry) -> Entry:
    entry.size = 5000  # under the ratio floor: only counting inflated bytes while streaming stops it
    return entry


@pytest.mark.parametrize(("build", "words"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_a_hostile_wheel_is_422_naming_the_member_and_nothing_is_stored(
    client: TestClient,
    registry: RegistryService,
    token: str,
    members: dict[str, bytes],
    build: Callable[[dict[str, bytes]], bytes],
    words: list[str],
) -> None:
    data = build(members)
    assert len(data) < 1_000_000  # every one fits under the upload limit: the archive checks refuse it
    refused(put(client, data, token), 422, WHEEL, *words)
    assert stored(registry) == NOTHING


def test_the_valid_wheel_these_are_built_from_is_published(
    client: TestClient, registry: RegistryService, token: str, members: dict[str, bytes]
) -> None:
    reply = put(client, raw_zip(entries_of(members)), token)
    assert reply.status_code == 201, reply.text
    assert stored(registry)["particles"] == 1


def _sdist(extra: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        data = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0.0\n"
        info = tarfile.TarInfo("demo-1.0.0/PKG-INFO")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue() + extra, mtime=0)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (_sdist() + b"junk", ["bytes after the end of its gzip stream"]),
        (_sdist() + _sdist(), ["bytes after the end of its gzip stream"]),
        (b"\x00" * 10 + _sdist(), ["does not start with a gzip header"]),
        (_sdist(bytes(32 * 2**20)), ["gzip bomb"]),
    ],
    ids=["junk", "second-gzip", "prepended", "bomb"],
)
def test_a_hostile_sdist_is_422_and_nothing_is_stored(
    client: TestClient, registry: RegistryService, token: str, data: bytes, words: list[str]
) -> None:
    refused(put(client, data, token, "demo-1.0.0.tar.gz"), 422, "demo-1.0.0.tar.gz", *words)
    assert stored(registry) == NOTHING


def test_the_archive_limits_come_from_the_settings_and_the_cli(tmp_path: Path, members: dict[str, bytes]) -> None:
    notes = "".join(f"line {i}: the same words again\n" for i in range(40_000)).encode()  # 1.3 MB at ~14:1
    data = raw_zip(entries_of(rerecord({**members, "demo/notes.txt": notes})))
    strict = RegistryService(Settings(tmp_path / "strict", 1_000_000, max_compression_ratio=10))
    with TestClient(create_app(strict), raise_server_exceptions=True) as strict_client:
        body = refused(put(strict_client, data, create_token(strict, "alice")), 422, "compression ratio limit of 10:1")
        assert "demo/notes.txt" in body["error"]
        assert stored(strict) == NOTHING
    strict.close()
    small = RegistryService(Settings(tmp_path / "small", 1_000_000, max_unpacked_size=100_000))
    with TestClient(create_app(small), raise_server_exceptions=True) as small_client:
        refused(put(small_client, data, create_token(small, "alice")), 422, "over the limit of 100000")
    small.close()
    with TestClient(create_app(default := RegistryService(Settings(tmp_path / "default", 1_000_000)))) as plain:
        assert put(plain, data, create_token(default, "alice")).status_code == 201
    default.close()
    args = build_parser().parse_args(
        ["serve", "--data", str(tmp_path), "--max-unpacked-size", "1GiB", "--max-compression-ratio", "50"]
    )
    assert (args.max_unpacked_size, args.max_compression_ratio) == (2**30, 50)
    defaults = build_parser().parse_args(["serve", "--data", str(tmp_path)])
    assert (defaults.max_unpacked_size, defaults.max_compression_ratio) == (4 * 2**30, 200)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--data", str(tmp_path), "--max-compression-ratio", "0"])


# --- the server answers while an archive is being inflated ---------------------------------------------------


def test_healthz_answers_while_a_large_legal_wheel_is_validated(
    server: LiveServer, token: str, wheels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validation keeps inflating a legal 24 MB wheel until /healthz has answered: if validation held the event
    loop, /healthz could not answer before the loop's safety bound ran out, and the test would fail."""
    big = {"demo/weights.dat": random.Random(4).randbytes(24 * 2**20)}
    large = plugin_wheel(tmp_path / "large", "large", [ParticleSpec("enc")], extra_files=big)
    parsed_large = parse_filename(large.name)
    real = sora_registry.uploads.validate_package
    started, answered, rounds = threading.Event(), threading.Event(), []

    def busy_validation(path: Path, parsed: Any, limits: Any = None) -> Any:
        started.set()
        while not answered.is_set() and len(rounds) < 200:  # the bound only keeps a broken server from hanging
            real(large, parsed_large, limits)
            rounds.append(1)
        return real(path, parsed, limits)

    monkeypatch.setattr(sora_registry.uploads, "validate_package", busy_validation)
    result: dict[str, Any] = {}
    uploader = threading.Thread(
        target=lambda: result.update(reply=upload(server.url, plugin_wheel(wheels, "demo", [ParticleSpec("e")]), token))
    )
    uploader.start()
    assert started.wait(60)
    health = request(f"{server.url}/healthz")
    validating = not answered.is_set() and len(rounds) < 200
    answered.set()
    uploader.join(120)
    assert health.status == 200 and health.json()["status"] == "ok"
    assert validating  # /healthz answered while the validation loop was still inflating
    assert result["reply"].status == 201, result["reply"].text
