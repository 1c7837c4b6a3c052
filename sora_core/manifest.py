"""A plugin's static manifest: the particle metadata listing reads instead of importing code.

Each plugin package ships ``sora_manifest.json`` next to its top-level
``__init__.py``. It is generated from the code by ``sora manifest DIST --write``
(see :mod:`sora_core.manifest_builder`), and the conformance kit checks that it
is current. Reading it imports neither torch nor the plugin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from sora_core import manifest_fields as fields
from sora_core.errors import ManifestError, PortError, SoraError
from sora_core.kinds import KindSpec
from sora_core.metadata import ParticleInfo
from sora_core.ports import PortSpec
from sora_core.safe_json import load_json_bytes
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
        data = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(f"manifest {path} does not exist", _REGENERATE) from None
    except OSError as exc:
        raise ManifestError(f"manifest {path} is not readable: {exc.strerror}", _REGENERATE) from None
    try:
        return load_json_bytes(data, f"manifest {path}", hint=_REGENERATE)
    except ManifestError as exc:  # the wording `sora list` has always used for an installed manifest
        raise ManifestError(exc.message.replace(" is not valid JSON", " is not readable JSON"), exc.hint) from None


def read_manifest(path: Path) -> Manifest:
    """Read and validate a manifest file; raise ``ManifestError`` naming the file and field."""
    return parse_manifest(load_manifest_json(path), path)


def parse_manifest(data: Any, path: Path) -> Manifest:
    """Validate a manifest's raw JSON; raise ``ManifestError`` naming the file and field.

    The top level, kinds, spaces and templates are checked here; each particle entry is checked in full by
    :func:`particle_info` (so one bad particle leaves its siblings listed).
    """
    version = data.get("format") if isinstance(data, dict) else None
    if not isinstance(data, dict) or type(version) is not int or version != MANIFEST_FORMAT:
        raise ManifestError(f"manifest {path} has format {version!r}, expected {MANIFEST_FORMAT}", _REGENERATE)
    where = f"manifest {path}"
    particles = fields.obj(data, "particles", where)
    for name, entry in particles.items():
        if not isinstance(entry, dict):
            raise fields.fail(where, f"particles.{name}", "an object", entry)
    kinds = []
    for index, kind in enumerate(fields.array(data, "kinds", where)):
        try:
            kinds.append(KindSpec.from_dict(kind))
        except SoraError as exc:
            raise ManifestError(f"{where}, kinds[{index}]: {exc.message}", _REGENERATE) from None
    return Manifest(
        path=path,
        distribution=fields.text(data, "distribution", where),
        particles=particles,
        kinds=kinds,
        spaces=[
            _space(space, f"{where}, spaces[{index}]")
            for index, space in enumerate(fields.array(data, "spaces", where))
        ],
        templates=fields.strings(data, "templates", where),
    )


def _space(data: Any, where: str) -> SpaceSpec:
    if not isinstance(data, dict):
        raise ManifestError(
            f"{where}: a space must be an object with a 'tag', not {fields.json_type(data)}", _REGENERATE
        )
    try:
        return SpaceSpec(fields.text(data, "tag", where, required=True), fields.text(data, "description", where))
    except PortError as exc:
        raise ManifestError(f"{where}: {exc.message}", exc.hint) from None


_REGENERATE = fields.REGENERATE


def particle_info(manifest: Manifest, name: str, dist: str, version: str, entry_point: str) -> ParticleInfo:
    """Build a :class:`ParticleInfo` from a manifest entry; raise ``ManifestError`` naming the particle and field."""
    entry = manifest.particles.get(name)
    if not isinstance(entry, dict):
        raise ManifestError(
            f"particle {dist}:{name} is not described in its manifest {manifest.path}",
            _REGENERATE,
        )
    where = f"manifest {manifest.path}, particle {name!r}"
    default_config = fields.obj(entry, "default_config", where)
    declared_entry_point = fields.text(entry, "entry_point", where)
    return ParticleInfo(
        name=name,
        dist=dist,
        dist_version=version,
        entry_point=entry_point or declared_entry_point,
        kind=fields.text(entry, "kind", where, required=True),
        description=fields.text(entry, "description", where),
        inputs=_ports(entry, "inputs", where),
        outputs=_ports(entry, "outputs", where),
        config_schema=fields.config_schema(entry.get("config_schema", {}), where),
        default_config=default_config,
        default_weights=_weights_path(manifest, entry.get("default_weights"), where),
        pretrained_on_create=fields.flag(entry, "pretrained_on_create", where, default=False),
        source=fields.text(entry, "source", where, default="entry-point"),
    )


def _weights_path(manifest: Manifest, relative: Any, where: str) -> str | None:
    """Default weights are stored relative to the package that ships the manifest."""
    if relative is None:
        return None
    parts = PurePosixPath(relative).parts if isinstance(relative, str) else ()
    if not parts or relative.startswith("/") or "\\" in relative or ".." in parts:
        raise ManifestError(
            f"{where}: field 'default_weights' ({relative!r}) must be a relative path inside the package",
            _REGENERATE,
        )
    return str(manifest.path.parent / relative)


def _ports(entry: dict[str, Any], key: str, where: str) -> dict[str, PortSpec]:
    ports = {}
    for port_name, spec in fields.obj(entry, key, where).items():
        if not port_name:
            raise ManifestError(f"{where}: field {key!r} has a port with an empty name", _REGENERATE)
        try:
            ports[port_name] = PortSpec.from_dict(spec)
        except SoraError as exc:
            raise ManifestError(f"{where}, {key[:-1]} port {port_name!r}: {exc.message}", _REGENERATE) from None
    return ports
