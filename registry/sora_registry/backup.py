"""A consistent backup of a registry's data directory (``sora-registry backup``), safe while it serves.

The catalog is copied first with SQLite's online backup API (a consistent snapshot, even during
uploads); then every file that snapshot lists is copied from the blob store, its sha256 checked
against the catalog on the way. A file is in place before its row commits, so every file the
snapshot names exists. Published files never change, so a file already in the backup with the
recorded size is skipped: running the backup again into the same directory is incremental.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sora_registry.errors import StorageError
from sora_registry.service import RegistryService
from sora_registry.settings import Settings
from sora_registry.storage import FilesystemBlobStore, SqliteCatalog


@dataclass
class BackupReport:
    copied: int = 0
    skipped: int = 0
    bytes_copied: int = 0


def backup(service: RegistryService, destination: Path) -> BackupReport:
    """Write a snapshot of ``service``'s catalog and files to ``destination`` (a data directory)."""
    target = Settings(destination)
    if destination.resolve() == service.settings.data_dir.resolve():
        raise StorageError(f"backup destination {destination} is the data directory itself", "pick another directory")
    destination.mkdir(parents=True, exist_ok=True)
    _snapshot_catalog(service.settings.catalog_path, target.catalog_path)
    snapshot = SqliteCatalog(target.catalog_path)
    blobs = FilesystemBlobStore(target.files_dir)
    report = BackupReport()
    try:
        for project in snapshot.projects():
            for record in snapshot.files(project):
                path = blobs.path(record.key)
                if path.is_file() and path.stat().st_size == record.size:
                    report.skipped += 1
                    continue
                _copy_verified(service, record.key, record.sha256, path)
                report.copied += 1
                report.bytes_copied += record.size
    finally:
        snapshot.close()
    return report


def _snapshot_catalog(source: Path, target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source)
    dst = sqlite3.connect(partial)
    try:
        src.backup(dst)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot back up the catalog {source}: {exc}", "check the data directory") from None
    finally:
        dst.close()
        src.close()
    os.replace(partial, target)
    for suffix in ("-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)


def _copy_verified(service: RegistryService, key: str, sha256: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    digest = hashlib.sha256()
    try:
        with service.blobs.open(key) as source, open(partial, "wb") as sink:
            while chunk := source.read(1 << 20):
                digest.update(chunk)
                sink.write(chunk)
            sink.flush()
            os.fsync(sink.fileno())
    except FileNotFoundError:
        partial.unlink(missing_ok=True)
        raise StorageError(
            f"file {key} is in the catalog but missing from storage", "run `sora-registry verify`"
        ) from None
    if digest.hexdigest() != sha256:
        partial.unlink(missing_ok=True)
        raise StorageError(
            f"file {key} has sha256 {digest.hexdigest()}, the catalog records {sha256}",
            "the stored file is corrupt: run `sora-registry verify` and restore it from an older backup",
        )
    os.replace(partial, path)
