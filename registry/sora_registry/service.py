"""The registry as one object: its settings, catalog, blob store and uploader."""

from __future__ import annotations

from sora_registry.errors import StorageError
from sora_registry.settings import Settings
from sora_registry.storage import BlobStore, CatalogStore, FilesystemBlobStore, SqliteCatalog
from sora_registry.uploads import Uploader


class RegistryService:
    """What the web app and the CLI work on.

    ``catalog`` and ``blobs`` default to SQLite and a directory inside ``settings.data_dir``;
    pass other :class:`CatalogStore` / :class:`BlobStore` implementations to serve from
    PostgreSQL or object storage.
    """

    def __init__(self, settings: Settings, catalog: CatalogStore | None = None, blobs: BlobStore | None = None) -> None:
        self.settings = settings
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"data directory {settings.data_dir} cannot be created: {exc.strerror}", "pick a writable --data"
            ) from None
        self.catalog = catalog or SqliteCatalog(settings.catalog_path)
        self.blobs = blobs or FilesystemBlobStore(settings.files_dir)
        self.uploader = Uploader(
            self.catalog, self.blobs, settings.staging_dir, settings.max_upload_size, settings.archive_limits
        )

    def close(self) -> None:
        self.catalog.close()
