"""The two storage interfaces of the registry and the records they exchange.

:class:`CatalogStore` keeps everything searchable (tokens, owners, projects, releases, files,
particles) and is the source of truth: a file is published when, and only when, its catalog row
is committed. :class:`BlobStore` keeps the bytes of each file under the key ``project/filename``.
The defaults are SQLite (:mod:`.sqlite_catalog`) and a directory (:mod:`.filesystem`); a larger
deployment implements the same interfaces on PostgreSQL and S3-compatible object storage (see
``docs/registry.md``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sora_registry.errors import ConflictError
from sora_registry.search import SearchQuery, SearchResult
from sora_registry.tokens import TokenRecord


@dataclass(frozen=True)
class FileRecord:
    """One published file."""

    project: str
    version: str
    filename: str
    packagetype: str
    size: int
    sha256: str
    requires_python: str | None
    uploaded: str
    uploader: str

    @property
    def key(self) -> str:
        return blob_key(self.project, self.filename)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ReleaseMetadata:
    """What a validated package says about its release; ``particles`` are only read from wheels."""

    project: str
    version: str
    summary: str = ""
    license: str = ""
    requires_python: str | None = None
    particles: list[dict[str, Any]] = field(default_factory=list)
    weight_files: list[dict[str, Any]] = field(default_factory=list)
    package: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Publication:
    """A validated upload ready to be committed: its file row and its release's metadata."""

    file: FileRecord
    release: ReleaseMetadata


def blob_key(project: str, filename: str) -> str:
    return f"{project}/{filename}"


def last_owner_error(project: str, user: str) -> ConflictError:
    return ConflictError(
        f"{user!r} is the only owner of project {project!r}: without an owner, whoever uploads to it next would own it",
        f"add another owner first (`sora-registry owner add {project} USER`), then remove {user!r}",
    )


class CatalogStore(ABC):
    """Tokens, owners, releases, files and particles, with transactional publishing and search."""

    # --- tokens and owners ---------------------------------------------------------------

    @abstractmethod
    def add_token(self, token_id: str, user: str, digest: str, label: str) -> None: ...

    @abstractmethod
    def user_for_token(self, digest: str) -> str | None:
        """The user owning an unrevoked token with this digest (recording its use), or ``None``."""

    @abstractmethod
    def revoke_token(self, token_id: str) -> bool:
        """Revoke a token; ``False`` when no unrevoked token has that id."""

    @abstractmethod
    def tokens(self, user: str | None = None) -> list[TokenRecord]: ...

    @abstractmethod
    def add_owner(self, project: str, user: str) -> bool:
        """Make ``user`` an owner of ``project``; ``False`` when already one."""

    @abstractmethod
    def remove_owner(self, project: str, user: str) -> bool:
        """Stop ``user`` owning ``project``; ``False`` when not an owner.

        Raises :func:`last_owner_error` when ``user`` is the only owner of a project with published
        files: an ownerless project would belong to whoever uploads to it next. The only owner of
        a name reserved but never published may be removed (that frees the name).
        """

    @abstractmethod
    def owners(self, project: str | None = None) -> list[tuple[str, str]]:
        """``(project, user)`` pairs, for one project or all."""

    # --- publishing ----------------------------------------------------------------------

    @abstractmethod
    def check_upload(self, file: FileRecord) -> None:
        """Refuse early (before the body is read) an upload the catalog would refuse.

        Raises ``PermissionDeniedError`` when ``file.uploader`` does not own the project and
        ``ConflictError`` when the file, or this version's wheel or sdist, is already published.
        """

    @abstractmethod
    def publishing(self, publication: Publication) -> AbstractContextManager[None]:
        """A transaction that records ``publication``; the caller stores the blob inside it.

        On entry the checks of :meth:`check_upload` run again (a concurrent upload may have
        won) and the rows are written; a project without owners becomes the uploader's. The
        transaction commits when the block exits normally and rolls back when it raises; if
        the commit itself fails the context manager raises and the caller removes the blob.
        """

    # --- reading -------------------------------------------------------------------------

    @abstractmethod
    def projects(self) -> list[str]:
        """Every project with at least one published file, sorted."""

    @abstractmethod
    def files(self, project: str) -> list[FileRecord]:
        """The project's files, oldest version first."""

    @abstractmethod
    def file(self, project: str, filename: str) -> FileRecord | None: ...

    @abstractmethod
    def project(self, project: str) -> dict[str, Any] | None:
        """A project's owners and versions (newest first), each with its files and particles."""

    @abstractmethod
    def search(self, query: SearchQuery) -> SearchResult:
        """Particles of each distribution's latest release matching every filter of ``query``."""

    @abstractmethod
    def particle(self, distribution: str, name: str) -> dict[str, Any] | None:
        """A particle's full metadata (from the newest release that has it) and every version."""

    @abstractmethod
    def kinds(self) -> list[str]:
        """Kinds of the particles in the latest releases, sorted."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """How many projects, files and (latest) particles the catalog holds."""

    def ping(self) -> None:  # noqa: B027 - stores without a connection have nothing to check
        """Raise when the store cannot be reached (used by ``/healthz``)."""

    def close(self) -> None:  # noqa: B027 - optional for stores without resources
        """Release connections."""


class BlobStore(ABC):
    """The bytes of published files, by key ``project/filename``."""

    @abstractmethod
    def put(self, key: str, source: Path) -> None:
        """Move the verified file ``source`` to ``key`` atomically (replacing an unrecorded leftover)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """The file's bytes; raise ``FileNotFoundError`` when absent."""

    @abstractmethod
    def iter_keys(self) -> Iterator[str]:
        """Every stored key (for consistency checks and backups)."""

    def local_path(self, key: str) -> Path | None:
        """A path the server may send directly, or ``None`` for remote stores."""
        return None
