"""The default blob store: files in ``DATA/files/<project>/<filename>``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from sora_registry.errors import StorageError
from sora_registry.names import check_safe_filename, normalize_project
from sora_registry.storage.base import BlobStore


class FilesystemBlobStore(BlobStore):
    """Blobs as plain files under ``root``; ``put`` is a rename, so a reader never sees half a file.

    Uploads must be staged on the same filesystem as ``root`` (the server stages them in
    ``DATA/tmp``) so the rename is atomic.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        """The path of ``key``, after checking both of its parts are safe single components."""
        project, sep, filename = key.partition("/")
        if not sep or normalize_project(project) != project:
            raise StorageError(f"blob key {key!r} is not PROJECT/FILENAME", "this is a bug in sora-registry")
        check_safe_filename(filename)
        return self.root / project / filename

    def put(self, key: str, source: Path) -> None:
        target = self.path(key)
        target.parent.mkdir(exist_ok=True)
        with open(source, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(source, target)
        _fsync_dir(target.parent)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def open(self, key: str) -> BinaryIO:
        return open(self.path(key), "rb")

    def iter_keys(self) -> Iterator[str]:
        for project in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for file in sorted(f for f in project.iterdir() if f.is_file()):
                yield f"{project.name}/{file.name}"

    def local_path(self, key: str) -> Path | None:
        return self.path(key)


def _fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
