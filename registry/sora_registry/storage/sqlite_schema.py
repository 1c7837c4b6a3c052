"""The SQLite catalog's schema (``PRAGMA user_version`` 2).

Immutability is enforced by the schema itself, not only by the code: a filename is a primary
key, ``files_one_per_type`` allows one wheel and one sdist per version, and the trigger
``files_one_release_per_version`` refuses a file whose version equals a published one under
PEP 440 (``1.0`` == ``1.0.0``: ``files.canonical_version``, see ``names.version_identity``) unless
it is the other package type spelled the same way. ``latest`` holds one
row per particle of each distribution's newest wheel release, kept narrow (no JSON) so that a
search scans little; the JSON row it returns (``particles.row``) is read only for the page shown.
"""

from __future__ import annotations

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    token_id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    last_used TEXT,
    revoked TEXT
);
CREATE TABLE IF NOT EXISTS owners (
    project TEXT NOT NULL,
    user TEXT NOT NULL,
    added TEXT NOT NULL,
    PRIMARY KEY (project, user)
);
CREATE TABLE IF NOT EXISTS releases (
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    license TEXT NOT NULL DEFAULT '',
    requires_python TEXT,
    created TEXT NOT NULL,
    has_wheel INTEGER NOT NULL DEFAULT 0,
    package TEXT NOT NULL DEFAULT '{}',
    weight_files TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (project, version)
);
CREATE TABLE IF NOT EXISTS files (
    filename TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    packagetype TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    requires_python TEXT,
    uploaded TEXT NOT NULL,
    uploader TEXT NOT NULL,
    canonical_version TEXT NOT NULL DEFAULT '',
    FOREIGN KEY (project, version) REFERENCES releases (project, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS files_one_per_type ON files (project, version, packagetype);
CREATE TABLE IF NOT EXISTS particles (
    id INTEGER PRIMARY KEY,
    distribution TEXT NOT NULL,
    short_name TEXT NOT NULL,
    version TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    row TEXT NOT NULL,
    UNIQUE (distribution, short_name, version),
    FOREIGN KEY (distribution, version) REFERENCES releases (project, version)
);
CREATE TABLE IF NOT EXISTS ports (
    particle_id INTEGER NOT NULL REFERENCES particles (id),
    direction TEXT NOT NULL,
    name TEXT NOT NULL,
    dtype TEXT NOT NULL,
    shape TEXT NOT NULL,
    space TEXT,
    is_pattern INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ports_particle ON ports (particle_id);
CREATE INDEX IF NOT EXISTS ports_name ON ports (name, particle_id);
CREATE INDEX IF NOT EXISTS ports_space ON ports (space, particle_id);
CREATE INDEX IF NOT EXISTS ports_shape ON ports (shape);
CREATE TABLE IF NOT EXISTS shapes (shape TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ports_patterns ON ports (particle_id, space) WHERE is_pattern = 1;
CREATE TABLE IF NOT EXISTS latest (
    distribution TEXT NOT NULL,
    short_name TEXT NOT NULL,
    particle_id INTEGER NOT NULL UNIQUE REFERENCES particles (id),
    kind TEXT NOT NULL,
    name_text TEXT NOT NULL,
    search_text TEXT NOT NULL,
    PRIMARY KEY (distribution, short_name)
);
CREATE INDEX IF NOT EXISTS latest_kind ON latest (kind);
"""

#: Run after :data:`SCHEMA` and the migrations (the column they index exists by then).
INDEXES = """
CREATE INDEX IF NOT EXISTS files_release ON files (project, canonical_version);
"""

#: One statement (its body holds ';', so it is not part of the ';'-split scripts above).
RELEASE_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS files_one_release_per_version BEFORE INSERT ON files
WHEN EXISTS (
    SELECT 1 FROM files f WHERE f.project = NEW.project AND f.canonical_version = NEW.canonical_version
    AND (f.packagetype = NEW.packagetype OR f.version <> NEW.version)
)
BEGIN
    SELECT RAISE(ABORT, 'files_one_release_per_version: this version is already published under PEP 440');
END
"""
