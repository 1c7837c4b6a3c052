"""Where the registry keeps things: a :class:`CatalogStore` (SQLite) and a :class:`BlobStore` (a directory)."""

from __future__ import annotations

from sora_registry.storage.base import BlobStore, CatalogStore, FileRecord, Publication, ReleaseMetadata, blob_key
from sora_registry.storage.filesystem import FilesystemBlobStore
from sora_registry.storage.sqlite_catalog import SqliteCatalog

__all__ = [
    "BlobStore",
    "CatalogStore",
    "FileRecord",
    "FilesystemBlobStore",
    "Publication",
    "ReleaseMetadata",
    "SqliteCatalog",
    "blob_key",
]
