"""The registry's errors: each is a :class:`~sora_core.errors.SoraError` with an HTTP status.

The server turns a :class:`RegistryError` into ``{"error": message, "hint": hint, "problems": [...]}``
with its ``status``; the CLI prints ``error: message`` and ``  hint: ...`` and exits non-zero.
"""

from __future__ import annotations

from typing import Any

from sora_core.errors import SoraError


class RegistryError(SoraError):
    """Base class of every error the registry raises on purpose."""

    status: int = 400

    def __init__(self, message: str, hint: str | None = None, problems: list[str] | None = None) -> None:
        super().__init__(message, hint)
        self.problems = list(problems or [])

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"error": self.message, "hint": self.hint or ""}
        if self.problems:
            data["problems"] = self.problems
        return data


class BadRequestError(RegistryError):
    """A malformed name, filename, header or body (400)."""

    status = 400


class AuthenticationError(RegistryError):
    """A missing, unknown or revoked token (401)."""

    status = 401


class PermissionDeniedError(RegistryError):
    """The token's user does not own the project (403)."""

    status = 403


class NotFoundError(RegistryError, LookupError):
    """No such project, particle, file or token (404)."""

    status = 404


class ConflictError(RegistryError):
    """The file, or this version's wheel, is already published: published versions are immutable (409)."""

    status = 409


class UploadTooLargeError(RegistryError):
    """The upload is larger than the server's limit (413)."""

    status = 413


class PackageRejectedError(RegistryError):
    """The package failed validation: pickle files, a bad manifest, hash mismatches, ... (422)."""

    status = 422


class StorageError(RegistryError):
    """The data directory or the catalog cannot be used (500)."""

    status = 500
