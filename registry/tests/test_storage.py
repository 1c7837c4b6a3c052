"""Storage: publishing is all or nothing, immutability is in the schema, keys and names are checked."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sora_registry.errors import BadRequestError, ConflictError, StorageError
from sora_registry.names import parse_filename
from sora_registry.search import PortQuery, SearchQuery
from sora_registry.storage import FileRecord, FilesystemBlobStore, Publication, ReleaseMetadata, SqliteCatalog
from sora_registry.uploads import Uploader


def publication(filename: str = "demo-1.0-py3-none-any.whl", sha: str = "a" * 64) -> Publication:
    parsed = parse_filename(filename)
    when = "2026-01-01T00:00:00Z"
    record = FileRecord(parsed.project, parsed.version, filename, parsed.packagetype, 4, sha, None, when, "alice")
    particle = {"short_name": "enc", "kind": "text_encoder", "name": "demo:enc", "inputs": {}, "outputs": {}}
    return Publication(record, ReleaseMetadata(parsed.project, parsed.version, particles=[particle]))


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[SqliteCatalog, FilesystemBlobStore, Uploader]]:
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite3")
    blobs = FilesystemBlobStore(tmp_path / "files")
    yield catalog, blobs, Uploader(catalog, blobs, tmp_path / "tmp", 1000)
    catalog.close()


def staged(tmp_path: Path, data: bytes = b"data") -> Path:
    path = tmp_path / "staged.whl"
    path.write_bytes(data)
    return path


def test_a_failing_blob_store_leaves_no_catalog_rows(stores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog, blobs, uploader = stores

    def broken_put(key: str, source: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(blobs, "put", broken_put)
    with pytest.raises(OSError, match="No space left"):
        uploader.publish_staged(publication(), staged(tmp_path))
    assert catalog.projects() == [] and catalog.counts() == {"projects": 0, "files": 0, "particles": 0}
    assert catalog.owners() == []  # the ownership claim was rolled back too


def test_a_failing_commit_removes_the_stored_blob(stores, tmp_path: Path) -> None:
    _catalog, blobs, uploader = stores

    @contextmanager
    def failing_publishing(pub: Publication) -> Iterator[None]:
        yield
        raise sqlite3.OperationalError("disk I/O error")

    uploader.catalog = type("Failing", (), {"publishing": staticmethod(failing_publishing)})()  # type: ignore[assignment]
    with pytest.raises(sqlite3.OperationalError):
        uploader.publish_staged(publication(), staged(tmp_path))
    assert list(blobs.iter_keys()) == []


def test_a_leftover_file_without_a_row_is_replaced(stores, tmp_path: Path) -> None:
    catalog, _blobs, uploader = stores
    (tmp_path / "files" / "demo").mkdir()
    (tmp_path / "files" / "demo" / "demo-1.0-py3-none-any.whl").write_bytes(b"from a crash")
    uploader.publish_staged(publication(), staged(tmp_path, b"good"))
    assert (tmp_path / "files" / "demo" / "demo-1.0-py3-none-any.whl").read_bytes() == b"good"
    assert [f.filename for f in catalog.files("demo")] == ["demo-1.0-py3-none-any.whl"]


def test_conflicts_are_checked_again_inside_the_transaction(stores, tmp_path: Path) -> None:
    _catalog, blobs, uploader = stores
    uploader.publish_staged(publication(), staged(tmp_path))
    with pytest.raises(ConflictError, match="already has a wheel"):
        uploader.publish_staged(publication("demo-1.0-py311-none-any.whl"), staged(tmp_path))
    assert sorted(blobs.iter_keys()) == ["demo/demo-1.0-py3-none-any.whl"]


def test_the_schema_itself_refuses_a_second_wheel_for_a_version(stores, tmp_path: Path) -> None:
    catalog, _, uploader = stores
    uploader.publish_staged(publication(), staged(tmp_path))
    con = sqlite3.connect(catalog.path)
    with pytest.raises(sqlite3.IntegrityError):
        con.execute(
            "INSERT INTO files (filename, project, version, packagetype, size, sha256, uploaded, uploader) "
            "VALUES ('demo-1.0-py311-none-any.whl', 'demo', '1.0', 'bdist_wheel', 1, 'x', 'now', 'mallory')"
        )
    con.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 99")
    con.close()
    with pytest.raises(StorageError, match="schema version 99"):
        SqliteCatalog(path)


@pytest.mark.parametrize("key", ["demo/../x.whl", "../demo/x.whl", "demo", "Demo/x-1.0-py3-none-any.whl", "demo/.x"])
def test_blob_keys_must_be_project_and_safe_filename(tmp_path: Path, key: str) -> None:
    blobs = FilesystemBlobStore(tmp_path)
    with pytest.raises((StorageError, BadRequestError)):
        blobs.path(key)


def test_filenames_parse_to_normalised_project_and_version() -> None:
    parsed = parse_filename("Demo_Plugin-01.2.0-py3-none-any.whl")
    assert (parsed.project, parsed.version, parsed.packagetype) == ("demo-plugin", "1.2.0", "bdist_wheel")
    parsed = parse_filename("demo.plugin-2.0rc1.tar.gz")
    assert (parsed.project, parsed.version, parsed.packagetype) == ("demo-plugin", "2.0rc1", "sdist")


def test_port_queries_parse_into_their_parts() -> None:
    query = PortQuery.parse("out:embeddings:float32[B L D=384]@text/minilm-l6@1")
    assert (query.direction, query.name, query.dtype, query.space.text) == (
        "outputs",
        "embeddings",
        "float32",
        "text/minilm-l6@1",
    )
    assert query.accepted_dtypes() == {"float32", "float", "any"}
    assert PortQuery.parse("float").accepted_dtypes() == {"float", "float16", "bfloat16", "float32", "float64", "any"}
    assert PortQuery.parse("in:mask").name == "mask" and PortQuery.parse("bool").dtype == "bool"
    assert query.shape_matches("B L D") and query.shape_matches("... D=384") and not query.shape_matches("B L D=768")
    assert SearchQuery.from_params({"q": " x ", "limit": "7"}).params() == {"q": "x", "limit": "7"}
