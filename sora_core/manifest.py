"""A plugin's static manifest: the particle metadata listing reads instead of importing code.

Each plugin package ships ``sora_manifest.json`` next to its top-level
``__init__.py``. It is generated from the code by ``sora manifest DIST --write``
(see :mod:`sora_core.manifest_builder`), and the conformance kit checks that it
is current. Reading it imports neither torch nor the plugin.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sora_core.errors import ManifestError, SoraError
from sora_core.kinds import KindSpec
from sora_core.metadata import ParticleInfo
from sora_core.ports import PortSpec
from sora_core.spaces import SpaceSpec

MANIFEST_NAME = "sora_manifest.json"
MANIFEST_FORMAT = 1


@dataclass
class Manifest:
    """The parsed contents of one ``sora_manifest.json``."""

    path: Path
    distribution: str
    particles: dict[str, dict[str, Any]] = field(default_factory=dict)
    kinds: list[KindSpec] = field(default_factory=list)
    spaces: list[SpaceSpec] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)


def load_manifest_json(path: Path) -> Any:
    """The raw JSON of a manifest file; raise ``ManifestError`` naming the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"manifest {path} does not exist", _REGENERATE) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"manifest {path} is not readable JSON: {exc}", _REGENERATE) from None


def read_manifest(path: Path) -> Manifest:
    """Read and validate a manifest file; raise ``ManifestError`` naming the file and field."""
    return parse_manifest(load_manifest_json(path), path)


def parse_manifest(data: Any, path: Path) -> Manifest:
    """Validate a manifest's raw JSON; raise ``ManifestError`` naming the file and field."""
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise ManifestError(
            f"manifest {path} has format {data.get('format') if isinstance(data, dict) else None!r}, "
            f"expected {MANIFEST_FORMAT}",
            _REGENERATE,
        )
    particles = data.get("particles", {})
    if not isinstance(particles, dict):
        raise ManifestError(f"manifest {path}: 'particles' must be an object", _REGENERATE)
    try:
        kinds = [KindSpec.from_dict(k) for k in data.get("kinds", [])]
        spaces = [SpaceSpec(str(s["tag"]), str(s.get("description", ""))) for s in data.get("spaces", [])]
    except (SoraError, KeyError, TypeError) as exc:
        raise ManifestError(f"manifest {path}: invalid kinds or spaces: {exc}", _REGENERATE) from None
    return Manifest(
        path=path,
        distribution=str(data.get("distribution", "")),
        particles=particles,
        kinds=kinds,
        spaces=spaces,
        templates=[str(t) for t in data.get("templates", [])],
    )


_REGENERATE = "regenerate it with `sora manifest DIST --write` and reinstall the plugin"


def particle_info(manifest: Manifest, name: str, dist: str, version: str, entry_point: str) -> ParticleInfo:
    """Build a :class:`ParticleInfo` from a manifest entry; raise ``ManifestError`` naming the field."""
    entry = manifest.particles.get(name)
    if not isinstance(entry, dict):
        raise ManifestError(
            f"particle {dist}:{name} is not described in its manifest {manifest.path}",
            _REGENERATE,
        )
    where = f"manifest {manifest.path}, particle {name!r}"
    try:
        return ParticleInfo(
            name=name,
            dist=dist,
            dist_version=version,
            entry_point=entry_point or str(entry.get("entry_point", "")),
            kind=_required_str(entry, "kind", where),
            description=str(entry.get("description", "")),
            inputs=_ports(entry.get("inputs", {}), where),
            outputs=_ports(entry.get("outputs", {}), where),
            config_schema=dict(entry.get("config_schema", {})),
            default_config=dict(entry.get("default_config", {})),
            default_weights=_weights_path(manifest, entry.get("default_weights")),
            pretrained_on_create=entry.get("pretrained_on_create", False) is True,
            source=str(entry.get("source", "entry-point")),
        )
    except (TypeError, ValueError) as exc:
        raise ManifestError(f"{where}: {exc}", _REGENERATE) from None


def _weights_path(manifest: Manifest, relative: Any) -> str | None:
    """Default weights are stored relative to the package that ships the manifest."""
    if relative is None:
        return None
    if not isinstance(relative, str) or Path(relative).is_absolute() or ".." in Path(relative).parts:
        raise ManifestError(
            f"manifest {manifest.path}: default_weights {relative!r} must be a relative path inside the package",
            _REGENERATE,
        )
    return str(manifest.path.parent / relative)


def _required_str(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise ManifestError(f"{where}: field {key!r} is missing or not a string", _REGENERATE)
    return value


def _ports(data: Any, where: str) -> dict[str, PortSpec]:
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: ports must be an object", _REGENERATE)
    ports = {}
    for port_name, spec in data.items():
        try:
            ports[str(port_name)] = PortSpec.from_dict(spec)
        except SoraError as exc:
            raise ManifestError(f"{where}, port {port_name!r}: {exc.message}", _REGENERATE) from None
    return ports
