"""Receiving one upload: authenticate, check, stream to a staging file, verify, validate, publish.

Nothing is stored until everything has passed: the body streams to ``DATA/tmp`` (counted against
the size limit and hashed as it arrives), its sha256 is compared with ``X-Content-SHA256``, the
package is validated, and only then is the file moved into the blob store inside the catalog
transaction that records it. Any failure removes the staging file and leaves no row.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import suppress
from pathlib import Path

import anyio.to_thread
from starlette.requests import ClientDisconnect

from sora_core.zip_safety import ZipLimits
from sora_registry import tokens
from sora_registry.errors import BadRequestError, UploadTooLargeError
from sora_registry.names import ParsedFilename, parse_filename
from sora_registry.settings import format_size
from sora_registry.storage.base import BlobStore, CatalogStore, FileRecord, Publication, ReleaseMetadata
from sora_registry.timeutil import now
from sora_registry.validation import validate_package

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ASCII_DIGITS = re.compile(r"^[0-9]{1,30}$")
_STALE_STAGING_SECONDS = 24 * 3600
_HEADER_HINT = (
    "send the file as the body of PUT /api/v1/files/FILENAME with Content-Length and X-Content-SHA256 "
    "(the hex sha256 of the body); `sora publish` does this"
)


class Uploader:
    """Publishes uploads into a catalog and a blob store."""

    def __init__(
        self,
        catalog: CatalogStore,
        blobs: BlobStore,
        staging_dir: Path,
        max_size: int,
        archive_limits: ZipLimits | None = None,
    ) -> None:
        self.catalog = catalog
        self.blobs = blobs
        self.staging_dir = staging_dir
        self.max_size = max_size
        self.archive_limits = archive_limits or ZipLimits()
        staging_dir.mkdir(parents=True, exist_ok=True)

    def authenticate(self, authorization: str | None) -> str:
        """The user a ``Bearer`` token belongs to; raise ``AuthenticationError`` (401) otherwise."""
        user = self.catalog.user_for_token(tokens.digest(tokens.bearer_secret(authorization)))
        if user is None:
            raise tokens.unknown_token_error()
        return user

    async def upload(self, filename: str, headers: Mapping[str, str], body: AsyncIterator[bytes]) -> FileRecord:
        """Publish the file streamed in ``body``; raise a ``RegistryError`` (nothing stored) on any failure."""
        user = await anyio.to_thread.run_sync(self.authenticate, headers.get("authorization"))
        parsed = parse_filename(filename)
        expected_sha = _expected_sha256(headers)
        declared = self._declared_length(headers)
        draft = _record(parsed, user, size=declared or 0, sha256=expected_sha)
        await anyio.to_thread.run_sync(self.catalog.check_upload, draft)
        staged = await self._receive(parsed, body, declared, expected_sha)
        try:
            # In a worker thread: inflating a large archive must never hold the event loop (and /healthz).
            release = await anyio.to_thread.run_sync(validate_package, staged, parsed, self.archive_limits)
            record = _record(parsed, user, size=staged.stat().st_size, sha256=expected_sha, release=release)
            await anyio.to_thread.run_sync(self.publish_staged, Publication(record, release), staged)
            return record
        finally:
            _remove_staged(staged)

    def publish_staged(self, publication: Publication, staged: Path) -> None:
        """Move the verified, validated file ``staged`` into the blob store inside the catalog transaction."""
        key = publication.file.key
        stored = False
        try:
            with self.catalog.publishing(publication):
                self.blobs.put(key, staged)
                stored = True
        except BaseException:
            if stored:
                self.blobs.delete(key)
            raise

    def _declared_length(self, headers: Mapping[str, str]) -> int | None:
        text = headers.get("content-length")
        if text is None:
            if "chunked" not in headers.get("transfer-encoding", "").lower():
                raise BadRequestError("missing Content-Length header", _HEADER_HINT)
            return None
        if not _ASCII_DIGITS.match(text.strip()):
            raise BadRequestError(f"Content-Length {text[:40]!r} is not a number of bytes", _HEADER_HINT)
        declared = int(text)
        if declared > self.max_size:
            raise self._too_large(f"Content-Length is {declared} bytes")
        if declared == 0:
            raise BadRequestError("the upload is empty (Content-Length: 0)", _HEADER_HINT)
        return declared

    def _too_large(self, what: str) -> UploadTooLargeError:
        return UploadTooLargeError(
            f"upload too large: {what}, over this registry's limit of {self.max_size} bytes "
            f"({format_size(self.max_size)})",
            "ship large weights in a separate package, or ask the administrator to raise --max-upload-size",
        )

    async def _receive(
        self, parsed: ParsedFilename, body: AsyncIterator[bytes], declared: int | None, expected_sha: str
    ) -> Path:
        """Stream the body to a staging file, enforcing the limit and checking length and sha256."""
        # A directory of its own keeps the file's real name, which the wheel inspection reads.
        staged = Path(tempfile.mkdtemp(prefix=f"upload-{os.getpid()}-", dir=self.staging_dir)) / parsed.filename
        digest, size = hashlib.sha256(), 0
        try:
            with open(staged, "xb") as sink:
                try:
                    async for chunk in body:
                        size += len(chunk)
                        if size > self.max_size:
                            raise self._too_large(f"more than {self.max_size} bytes were sent")
                        digest.update(chunk)
                        sink.write(chunk)
                except ClientDisconnect:
                    raise BadRequestError(
                        f"the client disconnected after sending {size} bytes of {parsed.filename!r}", "upload it again"
                    ) from None
            if size == 0:
                raise BadRequestError(f"the upload of {parsed.filename!r} is empty", _HEADER_HINT)
            if declared is not None and size != declared:
                raise BadRequestError(
                    f"the upload of {parsed.filename!r} ended after {size} of {declared} bytes", "upload it again"
                )
            if digest.hexdigest() != expected_sha:
                raise BadRequestError(
                    f"sha256 of the uploaded {parsed.filename!r} is {digest.hexdigest()}, "
                    f"but X-Content-SHA256 says {expected_sha}",
                    "the file changed or was corrupted in transit: compute the sha256 of the exact bytes sent",
                )
        except BaseException:
            _remove_staged(staged)
            raise
        return staged

    def remove_stale_staging(self, max_age: float = _STALE_STAGING_SECONDS) -> int:
        """Remove staging files left by a crash (older than ``max_age`` seconds); return how many."""
        removed = 0
        cutoff = time.time() - max_age
        for path in self.staging_dir.glob("upload-*"):
            with suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
                    removed += 1
        return removed


def _remove_staged(staged: Path) -> None:
    """Remove a staging file (if it was not moved into the blob store) and its directory."""
    staged.unlink(missing_ok=True)
    with suppress(OSError):
        staged.parent.rmdir()


def _expected_sha256(headers: Mapping[str, str]) -> str:
    value = headers.get("x-content-sha256", "").strip().lower()
    if not value:
        raise BadRequestError("missing X-Content-SHA256 header", _HEADER_HINT)
    if not _SHA256.match(value):
        raise BadRequestError(f"X-Content-SHA256 {value[:80]!r} is not 64 hex digits", _HEADER_HINT)
    return value


def _record(
    parsed: ParsedFilename, user: str, *, size: int, sha256: str, release: ReleaseMetadata | None = None
) -> FileRecord:
    requires_python = release.requires_python if release else None
    return FileRecord(
        project=parsed.project,
        version=parsed.version,
        filename=parsed.filename,
        packagetype=parsed.packagetype,
        size=size,
        sha256=sha256,
        requires_python=requires_python,
        uploaded=now(),
        uploader=user,
    )
