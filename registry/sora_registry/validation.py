"""Judging an uploaded package with :mod:`sora_core.wheels` before anything is stored.

A wheel must be publishable (``sora_core.wheels.inspect_wheel`` reports no problems: no pickle
files, a valid manifest, weights matching their hashes, safe member names, a licence, ...) and its
METADATA must name the project and version its filename does. An sdist must have no problems
either. Each refusal is a :class:`PackageRejectedError` (422) listing every problem.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from packaging.version import InvalidVersion, Version

from sora_core.errors import PackageError
from sora_core.text import canonical_dist_name
from sora_core.wheels import WeightFile, WheelInfo, inspect_sdist, inspect_wheel
from sora_core.zip_safety import ZipLimits
from sora_registry.errors import PackageRejectedError
from sora_registry.names import WHEEL, ParsedFilename
from sora_registry.storage.base import ReleaseMetadata

_FIX_HINT = "fix each problem listed (`sora check` shows the same ones), rebuild and upload again"


def validate_package(path: Path, parsed: ParsedFilename, limits: ZipLimits | None = None) -> ReleaseMetadata:
    """The release metadata of the staged package at ``path``; raise ``PackageRejectedError`` if unpublishable.

    ``limits`` caps what the archive may inflate to (zip bombs are refused while streaming).
    """
    try:
        if parsed.packagetype == WHEEL:
            info: Any = inspect_wheel(path, limits=limits)
        else:
            info = inspect_sdist(path, limits=limits)
    except PackageError as exc:
        message = exc.message.replace(str(path), parsed.filename)
        raise PackageRejectedError(message, exc.hint or _FIX_HINT, [message]) from None
    problems = [p.replace(str(path), parsed.filename) for p in info.problems]
    problems += _identity_problems(info.name, info.version, parsed)
    if problems:
        count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
        message = f"{parsed.filename} cannot be published ({count}): {problems[0]}"
        raise PackageRejectedError(message, _FIX_HINT, problems)
    if parsed.packagetype != WHEEL:
        return ReleaseMetadata(project=parsed.project, version=parsed.version)
    return _release(info, parsed)


def _identity_problems(name: str, version: str, parsed: ParsedFilename) -> list[str]:
    problems = []
    if canonical_dist_name(name) != parsed.project:
        problems.append(f"{parsed.filename}: the package is named {name!r}, the filename says {parsed.project!r}")
    if not _same_version(version, parsed.version):
        problems.append(f"{parsed.filename}: the package has version {version!r}, the filename says {parsed.version}")
    return problems


def _same_version(left: str, right: str) -> bool:
    try:
        return Version(left) == Version(right)
    except InvalidVersion:
        return left == right


def _release(info: WheelInfo, parsed: ParsedFilename) -> ReleaseMetadata:
    package = info.to_dict()
    for key in ("particles", "problems", "sha256", "filename"):
        package.pop(key, None)
    particles = []
    for particle in info.particles:
        data = particle.to_dict()
        data.update(
            distribution=parsed.project,
            name=f"{parsed.project}:{particle.name}",
            version=parsed.version,
            license=info.license or "",
            requires_python=info.requires_python,
            weights=[w.to_dict() for w in _weights_of(particle.default_weights, info.weight_files)],
        )
        particles.append(data)
    return ReleaseMetadata(
        project=parsed.project,
        version=parsed.version,
        summary=info.summary or "",
        license=info.license or "",
        requires_python=info.requires_python,
        particles=particles,
        weight_files=[w.to_dict() for w in info.weight_files],
        package=package,
    )


def _weights_of(default_weights: str | None, weight_files: list[WeightFile]) -> list[WeightFile]:
    """The wheel's weight files in a particle's default weights directory."""
    if not default_weights:
        return []
    directory = PurePosixPath(default_weights)
    return [w for w in weight_files if PurePosixPath(w.path).parent == directory]
