"""Validating the names a client sends: project names and upload filenames.

The server never trusts a filename: before it is used anywhere (a path, a catalog row, a URL)
it must be a single safe path component and parse as a wheel or sdist filename. Parsing is
:mod:`packaging`'s, so the project and version agree with what pip reads from the same name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from sora_core.text import canonical_dist_name
from sora_registry.errors import BadRequestError

#: PEP 508 distribution names (checked case-insensitively).
_PROJECT = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
#: Characters a wheel or sdist filename may contain (versions bring '+' and '!').
_FILENAME_CHARS = re.compile(r"^[A-Za-z0-9._+!-]+$")
MAX_FILENAME_LENGTH = 255
WHEEL = "bdist_wheel"
SDIST = "sdist"

_FILENAME_HINT = (
    "upload a file named as the build tools name it: NAME-VERSION-PYTAG-ABITAG-PLATFORM.whl or NAME-VERSION.tar.gz"
)


@dataclass(frozen=True)
class ParsedFilename:
    """What an upload's filename says: the normalised project, the normalised version, the package type."""

    filename: str
    project: str
    version: str
    packagetype: str


def normalize_project(name: str) -> str:
    """The PEP 503 form of a valid project name; raise ``BadRequestError`` naming it otherwise."""
    if not isinstance(name, str) or not _PROJECT.match(name):
        raise BadRequestError(
            f"project name {name!r} is not a valid distribution name",
            "a name has letters, digits, '.', '_' and '-', and starts and ends with a letter or digit",
        )
    return canonical_dist_name(name)


def check_safe_filename(filename: str) -> str:
    """Return ``filename`` if it is one safe path component; raise ``BadRequestError`` naming the fault."""
    problem = None
    if not filename:
        problem = "is empty"
    elif "\x00" in filename:
        problem = "contains a NUL byte"
    elif "/" in filename or "\\" in filename:
        problem = "contains a path separator"
    elif ".." in filename:
        problem = "contains '..'"
    elif filename.startswith("."):
        problem = "starts with '.'"
    elif len(filename) > MAX_FILENAME_LENGTH:
        problem = f"is longer than {MAX_FILENAME_LENGTH} characters"
    elif not _FILENAME_CHARS.match(filename):
        problem = "contains characters other than letters, digits and . _ + ! -"
    if problem:
        raise BadRequestError(f"filename {filename!r} {problem}", _FILENAME_HINT)
    return filename


def parse_filename(filename: str) -> ParsedFilename:
    """Check and parse an upload's filename; raise ``BadRequestError`` naming what is wrong."""
    check_safe_filename(filename)
    try:
        if filename.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(filename)
            packagetype = WHEEL
        elif filename.endswith(".tar.gz"):
            name, version = parse_sdist_filename(filename)
            packagetype = SDIST
        else:
            raise BadRequestError(
                f"filename {filename!r} is neither a wheel (.whl) nor an sdist (.tar.gz)",
                "build the package with `python -m build` and upload its .whl (and .tar.gz)",
            )
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise BadRequestError(f"filename {filename!r} cannot be parsed: {exc}", _FILENAME_HINT) from None
    return ParsedFilename(filename, canonical_dist_name(str(name)), str(version), packagetype)


def normalize_version(version: str, where: str) -> str:
    """The PEP 440 normal form of ``version``; raise ``BadRequestError`` naming ``where`` otherwise."""
    try:
        return str(Version(version))
    except InvalidVersion:
        raise BadRequestError(f"{where}: version {version!r} is not a valid PEP 440 version", _FILENAME_HINT) from None


def version_identity(version: str) -> str:
    """One string per PEP 440 version: ``1.0``, ``1.0.0`` and ``1.0.0.0`` all give ``1``.

    Two versions are the same release exactly when their identities are equal (``Version`` equality);
    an unparseable version (only in rows written by other tools) is its own identity.
    """
    try:
        return canonicalize_version(Version(version), strip_trailing_zero=True)
    except InvalidVersion:
        return version


def version_key(version: str) -> tuple[int, Version | str]:
    """Sort key placing valid versions in PEP 440 order, after any unparseable ones."""
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)
