"""Issue 22, the registry's share: PEP 440 immutability, malformed stored metadata, numeric parameters,
orphaned projects and the Host header. Each refusal is checked for its status, its words, and that
nothing was stored.

The server runs in process (starlette's TestClient); ``registry`` is its service.
"""

from __future__ import annotations

import io
import json
import math
import sqlite3
import tarfile
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version
from sora_registry.cli import main
from sora_registry.errors import ConflictError, RegistryError
from sora_registry.names import SDIST, WHEEL
from sora_registry.service import RegistryService
from sora_registry.settings import Settings
from sora_registry.storage import FileRecord, Publication, ReleaseMetadata, SqliteCatalog
from sora_registry.testing import ParticleSpec, create_token, plugin_wheel, sha256_hex
from starlette.testclient import TestClient

PUBLIC = "https://registry.example.org/sora"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(tmp_path / "data", 1_000_000, public_url=PUBLIC)


@pytest.fixture
def token(in_process_token: str) -> str:
    return in_process_token


def put(client: TestClient, path: Path, token: str, filename: str | None = None) -> Any:
    data = path.read_bytes()
    headers = {"Authorization": f"Bearer {token}", "X-Content-SHA256": sha256_hex(data)}
    return client.put(f"/api/v1/files/{filename or path.name}", content=data, headers=headers)


def snapshot(registry: RegistryService) -> dict[str, Any]:
    """Everything an upload could change: blobs, staging leftovers, file rows, owners, releases, particles."""
    data = registry.settings.data_dir
    con = sqlite3.connect(registry.settings.catalog_path)
    try:
        tables = {
            table: con.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            for table in ("files", "releases", "owners", "particles", "latest")
        }
    finally:
        con.close()
    disk = sorted(str(p.relative_to(data)) for sub in ("files", "tmp") for p in (data / sub).rglob("*"))
    return {"disk": disk, **tables}


def refused(reply: Any, status: int, *words: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["error"] and body["hint"], body
    text = json.dumps(body)
    for word in words:
        assert word in text, (word, body)
    return body


# --- 2: versions equal under PEP 440 are one release ---------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("1.0", "1.0.0"),
        ("1.0", "1.0.0.0"),
        ("1.0.0", "1"),
        ("1.0.post0", "1.0.0.post0"),
        ("1.0rc0", "1.0.0rc0"),
        ("0!2.0", "2.0.0"),
        ("1.0+local.1", "1.0.0+local.01"),
    ],
)
def test_a_version_equal_under_pep440_to_a_published_one_is_refused(
    client: TestClient, registry: RegistryService, token: str, tmp_path: Path, first: str, second: str
) -> None:
    published = plugin_wheel(tmp_path / "a", "demo", [ParticleSpec("enc", description="first")], version=first)
    assert put(client, published, token).status_code == 201
    before = snapshot(registry)
    other = plugin_wheel(tmp_path / "b", "demo", [ParticleSpec("enc", description="second")], version=second)
    body = refused(put(client, other, token), 409, "already published as", published.name, other.name, "PEP 440")
    assert f"version {Version(second)} of 'demo'" in body["error"]
    assert snapshot(registry) == before
    pip_view = client.get("/simple/demo/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}).json()
    assert [f["filename"] for f in pip_view["files"]] == [published.name]
    assert client.get("/api/v1/particles/demo/enc").json()["description"] == "first"


def test_the_issue_sequence_keeps_the_first_release(
    client: TestClient, registry: RegistryService, token: str, tmp_path: Path
) -> None:
    """1.0, 1.0.0, 1.0.0.0 with different content: only 1.0 is published, and pip is served 1.0."""
    wheels = [
        plugin_wheel(tmp_path / v, "demo", [ParticleSpec("enc", description=v)], version=v)
        for v in ("1.0", "1.0.0", "1.0.0.0")
    ]
    assert put(client, wheels[0], token).status_code == 201
    for wheel in wheels[1:]:
        refused(put(client, wheel, token), 409, "already published as 1.0", wheels[0].name)
    files = client.get("/simple/demo/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}).json()["files"]
    assert [(f["filename"], f["hashes"]["sha256"]) for f in files] == [
        (wheels[0].name, sha256_hex(wheels[0].read_bytes()))
    ]
    assert [v["version"] for v in client.get("/api/v1/projects/demo").json()["versions"]] == ["1.0"]


def test_an_sdist_must_spell_its_release_version_as_the_wheel_does(
    client: TestClient, registry: RegistryService, token: str, tmp_path: Path
) -> None:
    assert put(client, plugin_wheel(tmp_path, "demo", [ParticleSpec("enc")], version="1.0"), token).status_code == 201
    before = snapshot(registry)
    sdist = write_sdist(tmp_path / "s", "demo", "1.0.0")
    refused(put(client, sdist, token), 409, "already published as 1.0", "spell its version 1.0 in the filename")
    assert snapshot(registry) == before
    assert put(client, write_sdist(tmp_path / "t", "demo", "1.0"), token).status_code == 201


def test_names_equal_under_pep503_are_one_project(
    client: TestClient, registry: RegistryService, token: str, tmp_path: Path
) -> None:
    assert put(client, plugin_wheel(tmp_path / "a", "my-demo", [ParticleSpec("enc")]), token).status_code == 201
    before = snapshot(registry)
    other = plugin_wheel(tmp_path / "b", "My_Demo", [ParticleSpec("enc", description="x")], version="1.0")
    refused(put(client, other, token), 409, "'my-demo'", "already published as 1.0.0")
    mallory = create_token(registry, "mallory")
    refused(put(client, plugin_wheel(tmp_path / "c", "my.demo", [ParticleSpec("enc")], version="2.0"), mallory), 403)
    assert snapshot(registry) == before
    assert client.get("/api/v1/projects/My_Demo").json()["name"] == "my-demo"
    assert client.get("/api/v1/particles/MY.DEMO/enc").status_code == 200


def test_an_identical_reupload_is_refused_saying_it_is_already_there(
    client: TestClient, registry: RegistryService, token: str, tmp_path: Path
) -> None:
    wheel = plugin_wheel(tmp_path, "demo", [ParticleSpec("enc")])
    assert put(client, wheel, token).status_code == 201
    before = snapshot(registry)
    refused(put(client, wheel, token), 409, "already published with the same sha256 (nothing to do)")
    assert snapshot(registry) == before


def test_the_schema_refuses_a_second_spelling_even_past_the_code(registry: RegistryService) -> None:
    catalog = registry.catalog
    _publish(catalog, "demo", "1.0", WHEEL, {})
    for version, kind in (("1.0.0", WHEEL), ("1.0.0", SDIST), ("1.0", WHEEL)):
        with pytest.raises(sqlite3.IntegrityError):
            con = catalog._con()
            con.execute(
                "INSERT INTO files (project, version, filename, packagetype, size, sha256, uploaded, uploader, "
                "canonical_version) VALUES ('demo', ?, ?, ?, 1, 'x', 't', 'alice', '1')",
                (version, f"demo-{version}-{kind}.whl", kind),
            )


def test_a_schema_1_catalog_is_migrated_and_its_duplicates_reported(tmp_path: Path) -> None:
    data = tmp_path / "data"
    service = RegistryService(Settings(data))
    _publish(service.catalog, "demo", "1.0", WHEEL, {})
    service.close()
    con = sqlite3.connect(data / "catalog.sqlite3")
    con.executescript(
        "DROP TRIGGER files_one_release_per_version; DROP INDEX files_release; "
        "ALTER TABLE files DROP COLUMN canonical_version; PRAGMA user_version = 1;"
        "INSERT INTO releases (project, version, created) VALUES ('demo', '1.0.0', 't');"
        "INSERT INTO files (filename, project, version, packagetype, size, sha256, uploaded, uploader) "
        "VALUES ('demo-1.0.0-py3-none-any.whl', 'demo', '1.0.0', 'bdist_wheel', 1, 'x', 't', 'alice');"
    )
    con.close()
    migrated = RegistryService(Settings(data))
    try:
        con = migrated.catalog._con()
        assert con.execute("PRAGMA user_version").fetchone() == (2,)
        assert con.execute("SELECT DISTINCT canonical_version FROM files").fetchall() == [("1",)]
        draft = _record("demo", "1.0.0.0", WHEEL)
        with pytest.raises(ConflictError, match=r"already published as 1\.0 "):
            migrated.catalog.check_upload(draft)
        from sora_registry.consistency import verify

        problems = verify(migrated).problems
        assert [p for p in problems if p.startswith("same version:")] == [
            "same version: demo 1.0 and 1.0.0 are one version under PEP 440 (demo-1.0-bdist_wheel.whl, "
            "demo-1.0.0-py3-none-any.whl); pip may install any of them: keep the first published, delete the "
            "others' rows and files"
        ]
    finally:
        migrated.close()


def write_sdist(directory: Path, dist: str, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{dist}-{version}.tar.gz"
    data = f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n".encode()
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo(f"{dist}-{version}/PKG-INFO")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return path


def _record(project: str, version: str, packagetype: str) -> FileRecord:
    return FileRecord(
        project, version, f"{project}-{version}-{packagetype}.whl", packagetype, 1, "0" * 64, None, "t", "alice"
    )


def _publish(catalog: SqliteCatalog | Any, project: str, version: str, kind: str, particle: dict[str, Any]) -> None:
    """Write a release straight through the storage layer, bypassing upload validation."""
    particles = [particle] if particle else []
    release = ReleaseMetadata(project, version, summary="s", license="MIT", particles=particles)
    with catalog.publishing(Publication(_record(project, version, kind), release)):
        pass


# --- 6: odd stored metadata never breaks a page ---------------------------------------------------------

_ODD_PARTICLES: dict[str, dict[str, Any]] = {
    "props-list": {"config_schema": {"type": "object", "properties": ["size", "depth"]}},
    "props-string": {"config_schema": {"type": "object", "properties": "size"}},
    "schema-list": {"config_schema": [1, 2]},
    "schema-number": {"config_schema": 5, "default_config": [1]},
    "prop-not-object": {"config_schema": {"properties": {"size": 5, "depth": None}}},
    "nan-default": {"config_schema": {"properties": {"x": {"type": "number", "default": math.nan}}}},
    "inf-default": {"default_config": {"x": math.inf}, "config_schema": {"properties": {"x": {"type": "number"}}}},
    "ports-list": {"inputs": ["a", "b"], "outputs": "video"},
    "port-number": {"inputs": {"a": 5}, "outputs": {"v": {"dtype": 5, "shape": 5, "space": 7}}},
    "port-nested": {"outputs": {"v": {"dtype": ["float32"], "shape": {"B": 1}, "space": ["x"], "optional": "yes"}}},
    "weights-dict": {"weights": {"path": "a"}},
    "weights-odd": {"weights": [5, {"path": "w", "size": "big", "sha256": None}, {"size": math.inf}, {}]},
    "no-version": {"version": None, "distribution": None, "kind": "odd kind", "description": ["x"]},
}


def _odd(name: str, extra: dict[str, Any]) -> dict[str, Any]:
    particle = {
        "short_name": name,
        "name": f"odd:{name}",
        "distribution": "odd",
        "version": "1.0",
        "kind": "encoder",
        "description": "odd",
        "inputs": {},
        "outputs": {},
        "entry_point": "odd.particles:Odd",
    }
    return {**particle, **extra}


@pytest.mark.parametrize("name", sorted(_ODD_PARTICLES))
def test_malformed_stored_metadata_never_breaks_a_page(
    client: TestClient, registry: RegistryService, name: str
) -> None:
    _publish(registry.catalog, "odd", "1.0", WHEEL, _odd(name, _ODD_PARTICLES[name]))
    particle_page = client.get(f"/particles/odd/{name}")
    assert particle_page.status_code == 200, particle_page.text
    api = client.get(f"/api/v1/particles/odd/{name}")
    assert api.status_code == 200, api.text
    json.loads(api.text, parse_constant=_refuse_constant)  # strict JSON: no NaN or Infinity
    searches = ["/api/v1/particles?port=float32[B L D]", "/?port=in:@text/*", "/api/v1/particles?space=latent/*"]
    for url in ("/", "/?q=odd", "/api/v1/particles?q=odd", "/api/v1/projects/odd", "/simple/odd/", *searches):
        reply = client.get(url)
        assert reply.status_code == 200, (url, reply.text)
    assert "500" not in particle_page.text.split("<main>")[1][:20]


def test_a_malformed_config_schema_is_shown_as_malformed(client: TestClient, registry: RegistryService) -> None:
    _publish(registry.catalog, "odd", "1.0", WHEEL, _odd("props-list", _ODD_PARTICLES["props-list"]))
    text = client.get("/particles/odd/props-list").text
    config = text.split("<h2>Config</h2>")[1].split("<h2>")[0]
    assert "not shown: malformed" in config
    assert "<h2>Ports</h2>" in text and "<h2>Files</h2>" in text and "<h2>Versions</h2>" in text


def _refuse_constant(name: str) -> None:
    raise AssertionError(f"the JSON API sent {name}, which is not JSON")


# --- 7: numeric query parameters -------------------------------------------------------------------------

_BAD_NUMBERS = ["²", "١٢", "٣", "-1", "10**100", "1" * 31, "1e3", "0x10", "+5", "1.5", "NaN", "５", "1_000", "0"]


@pytest.mark.parametrize("value", _BAD_NUMBERS)
@pytest.mark.parametrize("path", ["/api/v1/particles", "/"])
def test_a_numeric_parameter_that_is_not_ascii_digits_in_range_is_400(
    client: TestClient, path: str, value: str
) -> None:
    for name, low, high in (("limit", 1, 500), ("offset", 0, 10**9)):
        if name == "offset" and value == "0":
            continue
        reply = client.get(path, params={name: value})
        assert reply.status_code == 400, (name, value, reply.text)
        words = [f"parameter {name}=", f"must be an integer from {low} to {high}", "ASCII digits"]
        text = reply.json()["error"] + " " + reply.json()["hint"] if path != "/" else reply.text
        for word in words:
            assert word in text, (word, text)


def test_numeric_parameters_in_ascii_within_bounds_are_accepted(client: TestClient) -> None:
    for params in ({"limit": "500"}, {"limit": " 7 "}, {"offset": "1000000000"}, {"limit": "0001"}):
        assert client.get("/api/v1/particles", params=params).status_code == 200, params
        assert client.get("/", params=params).status_code == 200, params


@pytest.mark.parametrize("value", ["²", "١٢", "-1", "10**100", "1" * 40, " "])
def test_a_content_length_that_is_not_ascii_digits_is_400(
    client: TestClient, registry: RegistryService, token: str, value: str
) -> None:
    from sora_registry.uploads import Uploader

    before = snapshot(registry)
    headers = {"authorization": f"Bearer {token}", "x-content-sha256": "0" * 64, "content-length": value}
    uploader: Uploader = registry.uploader
    with pytest.raises(RegistryError) as caught:
        uploader._declared_length(headers)
    assert caught.value.status == 400 and "Content-Length" in caught.value.message and caught.value.hint
    assert snapshot(registry) == before


# --- 8: a published project keeps an owner ---------------------------------------------------------------


def test_the_only_owner_of_a_published_project_cannot_be_removed(
    client: TestClient, registry: RegistryService, token: str, tmp_path: Path
) -> None:
    assert put(client, plugin_wheel(tmp_path / "a", "demo", [ParticleSpec("enc")]), token).status_code == 201
    with pytest.raises(ConflictError) as caught:
        registry.catalog.remove_owner("demo", "alice")
    assert caught.value.message == (
        "'alice' is the only owner of project 'demo': without an owner, whoever uploads to it next would own it"
    )
    assert caught.value.hint == "add another owner first (`sora-registry owner add demo USER`), then remove 'alice'"
    assert registry.catalog.owners("demo") == [("demo", "alice")]
    mallory = create_token(registry, "mallory")
    refused(put(client, plugin_wheel(tmp_path / "b", "demo", [ParticleSpec("enc")], version="2.0"), mallory), 403)
    registry.catalog.add_owner("demo", "bob")
    assert registry.catalog.remove_owner("demo", "alice")
    assert registry.catalog.owners("demo") == [("demo", "bob")]


def test_the_cli_refuses_to_orphan_a_project(
    capsys: pytest.CaptureFixture[str], registry: RegistryService, token: str, tmp_path: Path
) -> None:
    _publish(registry.catalog, "demo", "1.0", WHEEL, {})
    registry.catalog.add_owner("demo", "alice")
    data = str(registry.settings.data_dir)
    code = main(["owner", "remove", "--data", data, "Demo", "alice"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.splitlines()[0] == (
        "error: 'alice' is the only owner of project 'demo': without an owner, whoever uploads to it next would own it"
    )
    assert "add another owner first" in err
    assert registry.catalog.owners("demo") == [("demo", "alice")]
    assert main(["owner", "remove", "--data", data, "reserved-only", "alice"]) == 1  # not an owner: 404 path
    capsys.readouterr()
    main(["owner", "add", "--data", data, "reserved-only", "alice"])
    capsys.readouterr()
    assert main(["owner", "remove", "--data", data, "reserved-only", "alice"]) == 0
    assert "no longer reserved" in capsys.readouterr().out


# --- 10: the Host header changes nothing shown -----------------------------------------------------------


def test_no_page_depends_on_the_host_header(
    client: TestClient, registry: RegistryService, token: str, tmp_path: Path
) -> None:
    assert put(client, plugin_wheel(tmp_path, "demo", [ParticleSpec("enc")]), token).status_code == 201
    urls = [
        "/",
        "/?q=enc",
        "/?limit=²",
        "/particles/demo/enc",
        "/particles/demo/missing",
        "/simple/",
        "/simple/demo/",
        "/simple/Demo/",
        "/simple",
        "/api/v1/particles?q=enc",
        "/api/v1/particles/demo/enc",
        "/api/v1/projects/demo",
        "/nowhere",
        "/particles/demo/enc/",
        "/api/v1/particles/",
    ]
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "gopher"}
    for url in urls:
        plain = client.get(url, follow_redirects=False)
        forged = client.get(url, headers=evil, follow_redirects=False)
        assert (forged.status_code, forged.text) == (plain.status_code, plain.text), url
        assert forged.headers.get("location") == plain.headers.get("location"), url
        assert "evil" not in forged.text and "evil" not in forged.headers.get("location", ""), url
        assert forged.status_code < 500, url
    page = client.get("/particles/demo/enc", headers=evil).text
    assert f"pip install --index-url {PUBLIC}/simple/ demo==1.0.0" in page
    assert f"--index-url {PUBLIC}/simple/ NAME" in client.get("/", headers=evil).text


def test_the_public_url_defaults_to_the_bind_address(tmp_path: Path) -> None:
    assert Settings(tmp_path).index_url == "http://127.0.0.1:8417/simple/"
    assert Settings(tmp_path, public_url="https://r.example.org/sub/").index_url == "https://r.example.org/sub/simple/"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://r.example.org", "must start with http:// or https://"),
        ("r.example.org", "must start with http:// or https://"),
        ("javascript:alert(1)", "must start with http:// or https://"),
        ("https://", "has no host"),
        ("https://r.example.org/?x=1", "must not have a query (?) or fragment (#)"),
        ("https://r.example.org/#top", "must not have a query (?) or fragment (#)"),
        ("https://user:pw@r.example.org", "must not hold a user name or password"),
        ("https://r.example.org:99999", "has an invalid port"),
        ("https://r.example.org/a b", "holds spaces, control or non-ASCII characters"),
        ("https://régistry.example", "holds spaces, control or non-ASCII characters"),
        ("https://r.example.org/\x1b[2J", "holds spaces, control or non-ASCII characters"),
    ],
)
def test_an_invalid_public_url_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, url: str, words: str
) -> None:
    with pytest.raises(RegistryError) as caught:
        Settings(tmp_path, public_url=url)
    assert caught.value.message.startswith(f"public URL {url!r} {words}")
    assert "--public-url" in (caught.value.hint or "")
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--data", str(tmp_path / "d"), "--public-url", url])
    assert exited.value.code == 2
    assert f"argument --public-url: public URL {url!r} {words}" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
