"""The default catalog: SQLite (stdlib ``sqlite3``) in WAL mode, one connection per thread.

Readers never block each other or the writer (WAL). Writes take a process-wide lock and
``BEGIN IMMEDIATE`` (with a busy timeout, for several processes on one data directory), so
concurrent uploads are serialised at the commit, which is short: the body was read, hashed and
validated before.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sora_registry.errors import ConflictError, PermissionDeniedError, StorageError
from sora_registry.names import SDIST, WHEEL, version_identity, version_key
from sora_registry.search import SearchQuery, SearchResult
from sora_registry.storage import sqlite_search
from sora_registry.storage.base import CatalogStore, FileRecord, Publication, ReleaseMetadata, last_owner_error
from sora_registry.storage.sqlite_schema import INDEXES, RELEASE_TRIGGER, SCHEMA, SCHEMA_VERSION
from sora_registry.timeutil import now
from sora_registry.tokens import TokenRecord

_FILE_COLUMNS = "project, version, filename, packagetype, size, sha256, requires_python, uploaded, uploader"
_IMMUTABLE_HINT = "published versions are immutable: bump the version (e.g. with a .post1 suffix) and publish again"


class SqliteCatalog(CatalogStore):
    """The catalog in one SQLite file (``DATA/catalog.sqlite3`` by default)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._write_lock = threading.Lock()
        try:
            con = self._con()
            con.execute("PRAGMA journal_mode=WAL")
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"catalog {self.path} has schema version {version}, newer than this server's {SCHEMA_VERSION}",
                    "upgrade sora-registry",
                )
            with self._write() as con:
                _run_script(con, SCHEMA)
                _migrate(con)
                _run_script(con, INDEXES)
                con.execute(RELEASE_TRIGGER)
                con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            raise StorageError(f"catalog {self.path} cannot be opened: {exc}", "check the --data directory") from None

    # --- connections and transactions ----------------------------------------------------

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, isolation_level=None, timeout=30.0, check_same_thread=False)
            con.execute("PRAGMA synchronous=FULL")
            con.execute("PRAGMA foreign_keys=ON")
            self._local.con = con
            with self._connections_lock:
                self._connections.append(con)
        return con

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed when the block exits normally, rolled back when it raises."""
        con = self._con()
        with self._write_lock:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            try:
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise

    def ping(self) -> None:
        self._con().execute("SELECT 1").fetchone()

    def close(self) -> None:
        with self._connections_lock:
            for con in self._connections:
                con.close()
            self._connections.clear()
        self._local = threading.local()

    # --- tokens and owners ---------------------------------------------------------------

    def add_token(self, token_id: str, user: str, digest: str, label: str) -> None:
        with self._write() as con:
            con.execute(
                "INSERT INTO tokens (token_id, user, digest, label, created) VALUES (?, ?, ?, ?, ?)",
                (token_id, user, digest, label, now()),
            )

    def user_for_token(self, digest: str) -> str | None:
        row = (
            self._con()
            .execute("SELECT token_id, user FROM tokens WHERE digest = ? AND revoked IS NULL", (digest,))
            .fetchone()
        )
        if row is None:
            return None
        with self._write() as con:
            con.execute("UPDATE tokens SET last_used = ? WHERE token_id = ?", (now(), row[0]))
        return str(row[1])

    def revoke_token(self, token_id: str) -> bool:
        with self._write() as con:
            cursor = con.execute(
                "UPDATE tokens SET revoked = ? WHERE token_id = ? AND revoked IS NULL", (now(), token_id)
            )
            return cursor.rowcount == 1

    def tokens(self, user: str | None = None) -> list[TokenRecord]:
        sql = "SELECT token_id, user, label, created, last_used, revoked FROM tokens"
        rows = self._con().execute(
            sql + (" WHERE user = ?" if user else "") + " ORDER BY created, token_id", (user,) if user else ()
        )
        return [TokenRecord(*row) for row in rows]

    def add_owner(self, project: str, user: str) -> bool:
        with self._write() as con:
            cursor = con.execute(
                "INSERT OR IGNORE INTO owners (project, user, added) VALUES (?, ?, ?)", (project, user, now())
            )
            return cursor.rowcount == 1

    def remove_owner(self, project: str, user: str) -> bool:
        with self._write() as con:
            owners = [u for (u,) in con.execute("SELECT user FROM owners WHERE project = ?", (project,))]
            if user not in owners:
                return False
            published = con.execute("SELECT 1 FROM files WHERE project = ? LIMIT 1", (project,)).fetchone()
            if owners == [user] and published:
                raise last_owner_error(project, user)
            con.execute("DELETE FROM owners WHERE project = ? AND user = ?", (project, user))
            return True

    def owners(self, project: str | None = None) -> list[tuple[str, str]]:
        sql = "SELECT project, user FROM owners" + (" WHERE project = ?" if project else "") + " ORDER BY project, user"
        return [(p, u) for p, u in self._con().execute(sql, (project,) if project else ())]

    # --- publishing ----------------------------------------------------------------------

    def check_upload(self, file: FileRecord) -> None:
        _check(self._con(), file, claim=False)

    @contextmanager
    def publishing(self, publication: Publication) -> Iterator[None]:
        file, release = publication.file, publication.release
        with self._write() as con:
            _check(con, file, claim=True)
            _upsert_release(con, release, file)
            con.execute(
                f"INSERT INTO files ({_FILE_COLUMNS}, canonical_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    file.project,
                    file.version,
                    file.filename,
                    file.packagetype,
                    file.size,
                    file.sha256,
                    file.requires_python,
                    file.uploaded,
                    file.uploader,
                    version_identity(file.version),
                ),
            )
            if file.packagetype == WHEEL:
                ids = [_insert_particle(con, release, particle) for particle in release.particles]
                if _is_newest_wheel(con, file.project, file.version):
                    _replace_latest(con, file.project, ids)
            yield

    # --- reading -------------------------------------------------------------------------

    def projects(self) -> list[str]:
        return [p for (p,) in self._con().execute("SELECT DISTINCT project FROM files ORDER BY project")]

    def files(self, project: str) -> list[FileRecord]:
        rows = self._con().execute(f"SELECT {_FILE_COLUMNS} FROM files WHERE project = ?", (project,))
        records = [FileRecord(*row) for row in rows]
        return sorted(records, key=lambda f: (version_key(f.version), f.packagetype != SDIST, f.filename))

    def file(self, project: str, filename: str) -> FileRecord | None:
        row = (
            self._con()
            .execute(f"SELECT {_FILE_COLUMNS} FROM files WHERE project = ? AND filename = ?", (project, filename))
            .fetchone()
        )
        return FileRecord(*row) if row else None

    def project(self, project: str) -> dict[str, Any] | None:
        con = self._con()
        releases = con.execute(
            "SELECT version, summary, license, requires_python, created FROM releases WHERE project = ?", (project,)
        ).fetchall()
        if not releases:
            return None
        files: dict[str, list[dict[str, Any]]] = {}
        for record in self.files(project):
            files.setdefault(record.version, []).append(record.to_dict())
        particles: dict[str, list[str]] = {}
        for version, name in con.execute(
            "SELECT version, short_name FROM particles WHERE distribution = ? ORDER BY short_name", (project,)
        ):
            particles.setdefault(version, []).append(f"{project}:{name}")
        versions = [
            {
                "version": version,
                "summary": summary,
                "license": license_,
                "requires_python": requires_python,
                "created": created,
                "files": files.get(version, []),
                "particles": particles.get(version, []),
            }
            for version, summary, license_, requires_python, created in sorted(
                releases, key=lambda r: version_key(r[0]), reverse=True
            )
        ]
        owners = [user for _, user in self.owners(project)]
        return {"name": project, "owners": owners, "latest": versions[0]["version"], "versions": versions}

    def search(self, query: SearchQuery) -> SearchResult:
        return sqlite_search.search(self._con(), query)

    def particle(self, distribution: str, name: str) -> dict[str, Any] | None:
        con = self._con()
        rows = con.execute(
            "SELECT p.version, p.data, r.created FROM particles p "
            "JOIN releases r ON r.project = p.distribution AND r.version = p.version "
            "WHERE p.distribution = ? AND p.short_name = ?",
            (distribution, name),
        ).fetchall()
        if not rows:
            return None
        rows.sort(key=lambda r: version_key(r[0]), reverse=True)
        latest = con.execute(
            "SELECT p.version FROM latest l JOIN particles p ON p.id = l.particle_id "
            "WHERE l.distribution = ? AND l.short_name = ?",
            (distribution, name),
        ).fetchone()
        current = next((r for r in rows if latest and r[0] == latest[0]), rows[0])
        detail = json.loads(current[1])
        detail["in_latest_release"] = latest is not None
        detail["versions"] = [{"version": version, "published": created} for version, _, created in rows]
        release = version_identity(current[0])
        detail["files"] = [f.to_dict() for f in self.files(distribution) if version_identity(f.version) == release]
        return detail

    def kinds(self) -> list[str]:
        return [k for (k,) in self._con().execute("SELECT DISTINCT kind FROM latest ORDER BY kind")]

    def counts(self) -> dict[str, int]:
        con = self._con()
        return {
            "projects": con.execute("SELECT count(DISTINCT project) FROM files").fetchone()[0],
            "files": con.execute("SELECT count(*) FROM files").fetchone()[0],
            "particles": con.execute("SELECT count(*) FROM latest").fetchone()[0],
        }


def _run_script(con: sqlite3.Connection, script: str) -> None:
    """Run each statement of ``script`` inside the current transaction (``executescript`` would commit)."""
    for statement in script.split(";"):
        if statement.strip():
            con.execute(statement)


def _check(con: sqlite3.Connection, file: FileRecord, *, claim: bool) -> None:
    owners = [u for (u,) in con.execute("SELECT user FROM owners WHERE project = ?", (file.project,))]
    if owners and file.uploader not in owners:
        raise PermissionDeniedError(
            f"user {file.uploader!r} may not upload to project {file.project!r}: it is owned by "
            + ", ".join(repr(o) for o in owners),
            f"ask an owner or the administrator to run `sora-registry owner add {file.project} {file.uploader}`",
        )
    existing = con.execute("SELECT sha256 FROM files WHERE filename = ?", (file.filename,)).fetchone()
    if existing:
        same = " with the same sha256 (nothing to do)" if existing[0] == file.sha256 else ""
        raise ConflictError(f"file {file.filename!r} is already published{same}", _IMMUTABLE_HINT)
    _check_release(con, file)
    if claim and not owners:
        con.execute("INSERT INTO owners (project, user, added) VALUES (?, ?, ?)", (file.project, file.uploader, now()))


def _check_release(con: sqlite3.Connection, file: FileRecord) -> None:
    """Refuse a file of a version equal under PEP 440 to a published one, unless it completes that release.

    A release holds one wheel and one sdist, both spelling the version the same way: ``1.0.0``
    after ``1.0`` is the same version to pip, which would then serve either file.
    """
    rows = con.execute(
        "SELECT version, filename, packagetype FROM files WHERE project = ? AND canonical_version = ? "
        "ORDER BY uploaded, filename",
        (file.project, version_identity(file.version)),
    ).fetchall()
    for version, filename, packagetype in rows:
        same_type = packagetype == file.packagetype
        if version == file.version and not same_type:
            continue  # the sdist of a release with a wheel, or the reverse
        what = ("a wheel" if packagetype == WHEEL else "an sdist") + f" ({filename})"
        if version == file.version:
            raise ConflictError(
                f"version {file.version} of {file.project!r} already has {what}; refusing {file.filename!r}",
                _IMMUTABLE_HINT,
            )
        hint = _IMMUTABLE_HINT
        if not same_type:
            hint = f"to add {file.filename!r} to that release, spell its version {version} in the filename; {hint}"
        raise ConflictError(
            f"version {file.version} of {file.project!r} is already published as {version} with {what}: "
            f"under PEP 440 {file.version} == {version}; refusing {file.filename!r}",
            hint,
        )


def _migrate(con: sqlite3.Connection) -> None:
    """Bring a catalog written by an older server up to :data:`SCHEMA_VERSION` (inside the open transaction)."""
    columns = {row[1] for row in con.execute("PRAGMA table_info(files)")}
    if "canonical_version" not in columns:  # schema 1 -> 2
        con.execute("ALTER TABLE files ADD COLUMN canonical_version TEXT NOT NULL DEFAULT ''")
    rows = con.execute("SELECT filename, version FROM files WHERE canonical_version = ''").fetchall()
    for filename, version in rows:
        con.execute("UPDATE files SET canonical_version = ? WHERE filename = ?", (version_identity(version), filename))


def _upsert_release(con: sqlite3.Connection, release: ReleaseMetadata, file: FileRecord) -> None:
    """Create the release row; a wheel's metadata replaces what an earlier sdist recorded."""
    is_wheel = file.packagetype == WHEEL
    values = (
        release.summary,
        release.license,
        release.requires_python,
        json.dumps(release.package),
        json.dumps(release.weight_files),
    )
    exists = con.execute(
        "SELECT 1 FROM releases WHERE project = ? AND version = ?", (release.project, release.version)
    ).fetchone()
    if not exists:
        con.execute(
            "INSERT INTO releases (project, version, created, has_wheel, summary, license, requires_python, "
            "package, weight_files) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (release.project, release.version, file.uploaded, int(is_wheel), *values),
        )
    elif is_wheel:
        con.execute(
            "UPDATE releases SET has_wheel = 1, summary = ?, license = ?, requires_python = ?, package = ?, "
            "weight_files = ? WHERE project = ? AND version = ?",
            (*values, release.project, release.version),
        )


def _insert_particle(con: sqlite3.Connection, release: ReleaseMetadata, particle: dict[str, Any]) -> int:
    row = {key: particle.get(key) for key in _ROW_KEYS}
    cursor = con.execute(
        "INSERT INTO particles (distribution, short_name, version, kind, data, row) VALUES (?, ?, ?, ?, ?, ?)",
        (
            release.project,
            particle["short_name"],
            release.version,
            particle["kind"],
            json.dumps(particle),
            json.dumps(row),
        ),
    )
    particle_id = int(cursor.lastrowid or 0)
    for direction, port_name, spec in _ports(particle):
        space = spec.get("space") if isinstance(spec.get("space"), str) else None
        shape = str(spec.get("shape", ""))
        con.execute(
            "INSERT INTO ports (particle_id, direction, name, dtype, shape, space, is_pattern) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                particle_id,
                direction,
                port_name,
                str(spec.get("dtype", "any")),
                shape,
                space,
                int(bool(space) and any(c in space for c in "*?[")),
            ),
        )
        con.execute("INSERT OR IGNORE INTO shapes (shape) VALUES (?)", (shape,))
    return particle_id


def _ports(particle: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(direction, name, spec)`` of each well-formed port; odd shapes are stored in the JSON, not indexed."""
    for direction in ("inputs", "outputs"):
        ports = particle.get(direction)
        if not isinstance(ports, dict):
            continue
        for name, spec in ports.items():
            if isinstance(spec, dict):
                yield direction, str(name), spec


def _is_newest_wheel(con: sqlite3.Connection, project: str, version: str) -> bool:
    rows = con.execute("SELECT version FROM releases WHERE project = ? AND has_wheel = 1", (project,))
    versions = [v for (v,) in rows]
    return max(versions, key=version_key) == version


def _replace_latest(con: sqlite3.Connection, project: str, particle_ids: list[int]) -> None:
    con.execute("DELETE FROM latest WHERE distribution = ?", (project,))
    for particle_id in particle_ids:
        (row,) = con.execute("SELECT row FROM particles WHERE id = ?", (particle_id,)).fetchone()
        particle = json.loads(row)
        name_text = f"{project}:{particle['short_name']}".lower()
        con.execute(
            "INSERT INTO latest (distribution, short_name, particle_id, kind, name_text, search_text) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                project,
                particle["short_name"],
                particle_id,
                particle["kind"],
                name_text,
                f"{name_text} {particle.get('description', '')}".lower(),
            ),
        )


_ROW_KEYS = ("name", "short_name", "distribution", "version", "kind", "description", "inputs", "outputs", "license")
