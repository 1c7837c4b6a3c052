"""Output files of the CLI, checked before any work starts: a run never fails at the end for a bad path.

Every command that writes a file (``-o``/``--output``, ``--gif``, ``--contact-sheet``, ``--sheet``,
``--trace-out``) passes it through :func:`check_output_path` first.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sora_core.errors import ConfigError

#: Room a file name needs beyond its own length for the temporary name it is written under
#: (``.NAME-XXXXXXXX.safetensors``, see :mod:`sora_core.atomic`).
_TEMPORARY_NAME_ROOM = 24


def check_output_path(
    path: str | os.PathLike[str], flag: str, suffixes: Sequence[str] = (), what: str = "file"
) -> Path:
    """``path`` as a file a command may write, checked before any work starts; a ``ConfigError`` naming ``flag``.

    The target must not be a directory, its directory must exist and accept a new file (a probe file is
    created and removed again), its name must leave room for the temporary name it is first written under,
    and, given ``suffixes``, it must end with one of them (``what`` names the format in the message: "video").
    """
    text = os.fspath(path)
    target = Path(text)
    if not text.strip():
        raise ConfigError(f"{flag} is empty", f"give {flag} a file name")
    if text.endswith(("/", os.sep)) or _is_dir(target):
        raise ConfigError(
            f"{flag} {text}: is a directory, not a file",
            f"name a file inside it, e.g. {flag} {os.path.join(text, 'out' + (suffixes[0] if suffixes else ''))}",
        )
    if _exists(target) and not target.is_file():
        raise ConfigError(f"{flag} {text}: exists and is not a regular file", "name a new file, or an ordinary one")
    if suffixes and target.suffix.lower() not in suffixes:
        raise ConfigError(
            f"{flag} {text}: unknown {what} format {target.suffix!r}",
            "name it " + " or ".join(f"FILE{s}" for s in suffixes),
        )
    folder = target.parent
    if not _is_dir(folder):
        state = "is not a directory" if _exists(folder) else "does not exist"
        raise ConfigError(f"{flag} {text}: {folder} {state}", f"create {folder} first, or write elsewhere")
    _check_name_length(target, flag)
    _probe(folder, text, flag)
    return target


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a name too long, say: not a directory we could write into
        return False


def _exists(path: Path) -> bool:
    try:
        return os.path.lexists(path)
    except (OSError, ValueError):
        return False


def _check_name_length(target: Path, flag: str) -> None:
    try:
        limit = os.pathconf(target.parent, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        limit = 255
    if len(os.fsencode(target.name)) + _TEMPORARY_NAME_ROOM > limit:
        raise ConfigError(
            f"{flag} {target.name[:40]}...: the file name is too long for {target.parent}",
            f"use a name under {limit - _TEMPORARY_NAME_ROOM} bytes",
        )


def _probe(folder: Path, text: str, flag: str) -> None:
    """Create and remove a file in ``folder``: the only sure test that a write will be allowed there."""
    try:
        descriptor, name = tempfile.mkstemp(prefix=".sora-write-check-", dir=folder)
    except OSError as exc:
        raise ConfigError(
            f"{flag} {text}: cannot write into {folder}: {exc.strerror or exc}",
            "choose a directory you can write to",
        ) from None
    os.close(descriptor)
    os.unlink(name)
