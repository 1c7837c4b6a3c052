"""Finding installed particles without importing any plugin.

Discovery walks ``sys.path`` for distributions with ``sora.particles`` or
``sora.plugins`` entry points, and reads each plugin's static manifest. What it
reads is cached per distribution, keyed on the stat of its files (``RECORD``,
``entry_points.txt``, the manifests), so a second listing re-reads nothing that
did not change. No torch, pydantic or plugin module is imported here.

What the cache keeps is the outcome of reading a distribution: its particles,
kinds, spaces, templates and problems, validated when they were read. A warm
listing only stats those files and rebuilds the objects from the cache, without
reading, parsing or validating a manifest again (the manifest modules are not
even imported then).
"""

from __future__ import annotations

import gc
import os
import sys

from sora_core.discovery_cache import DiscoveryCache, file_stamp
from sora_core.errors import ManifestError
from sora_core.kinds import BUILTIN_KINDS, KindSpec
from sora_core.metadata import ParticleInfo, PluginProblem
from sora_core.ports import PortSpec
from sora_core.shapes import Dim, parse_shape
from sora_core.spaces import SpaceSpec
from sora_core.text import canonical_dist_name

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (about 3 ms of `sora list`)
if TYPE_CHECKING:
    from typing import Any

PARTICLES_GROUP = "sora.particles"
PLUGINS_GROUP = "sora.plugins"
_GROUPS = (PARTICLES_GROUP, PLUGINS_GROUP)


class _Plain:
    """Equality over the attributes and a repr, as a (non-frozen) dataclass has them."""

    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return vars(self) == vars(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class PluginDistribution(_Plain):
    """One installed distribution that contributes to sora."""

    name: str
    version: str
    path: str
    entry_points: dict[str, dict[str, str]]
    #: the manifest file of each package its particles live in (``<package ... not found>`` when none was found)
    manifest_paths: list[str]

    def __init__(
        self,
        name: str,
        version: str,
        path: str,
        entry_points: dict[str, dict[str, str]],
        manifest_paths: list[str] | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.path = path
        self.entry_points = entry_points
        self.manifest_paths = [] if manifest_paths is None else manifest_paths

    @property
    def plugin_modules(self) -> dict[str, str]:
        return self.entry_points.get(PLUGINS_GROUP, {})


class Catalog(_Plain):
    """Everything discovery found: particles, kinds, spaces and problems."""

    def __init__(self) -> None:
        self.particles: list[ParticleInfo] = []
        self.problems: list[PluginProblem] = []
        self.kinds: dict[str, KindSpec] = dict(BUILTIN_KINDS)
        self.spaces: dict[str, SpaceSpec] = {}
        #: each template's name and the distribution that contributes it
        self.templates: dict[str, str] = {}
        self.distributions: list[PluginDistribution] = []


def discover(paths: list[str] | None = None, cache: DiscoveryCache | None = None) -> Catalog:
    """Find every sora plugin on ``paths`` (default ``sys.path``) and build a :class:`Catalog`."""
    # Reading the cache and rebuilding the catalog allocate tens of thousands of objects, all kept and none in a
    # cycle; the garbage collector's passes over them cost more than the rest of a warm listing, so it waits.
    collecting = gc.isenabled()
    gc.disable()
    try:
        cache = cache if cache is not None else DiscoveryCache.default()
        catalog = Catalog()
        for dist, found in _plugin_distributions(paths if paths is not None else sys.path, cache):
            catalog.distributions.append(dist)
            _merge(catalog, dist, found)
    finally:
        if collecting:
            gc.enable()
    cache.save()
    return catalog


def _plugin_distributions(paths: list[str], cache: DiscoveryCache) -> list[tuple[PluginDistribution, dict[str, Any]]]:
    seen: set[str] = set()
    found: list[tuple[PluginDistribution, dict[str, Any]]] = []
    for entry in paths:
        directory = entry or os.getcwd()
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            info_dir = os.path.join(directory, name)
            ep_stamp = file_stamp(os.path.join(info_dir, "entry_points.txt"))
            raw_name, _ = _name_version(name)
            key = canonical_dist_name(raw_name)
            if key in seen:
                continue
            seen.add(key)
            if ep_stamp is None:
                continue
            loaded = _load_distribution(info_dir, ep_stamp, cache, paths)
            if loaded is not None:
                found.append(loaded)
    return found


def _name_version(dirname: str) -> tuple[str, str]:
    stem = dirname.rsplit(".", 1)[0]
    name, _, version = stem.partition("-")
    return name, version.split("-")[0]


def _load_distribution(
    info_dir: str, ep_stamp: list[int], cache: DiscoveryCache, paths: list[str]
) -> tuple[PluginDistribution, dict[str, Any]] | None:
    """The distribution and what it contributes (see :func:`_examine`), from the cache while its files are unchanged."""
    record_stamp = file_stamp(os.path.join(info_dir, "RECORD"))
    cached = cache.get(info_dir)
    if isinstance(cached, dict):
        try:
            stamp = cached["stamp"]
            if stamp[:2] == [ep_stamp, record_stamp] and all(file_stamp(p) == s for p, s in stamp[2].items()):
                data = cached["dist"]
                if data is None:
                    return None
                dist = PluginDistribution(data["name"], data["version"], info_dir, data["entry_points"], list(stamp[2]))
                return dist, cached["found"]
        except (KeyError, TypeError, AttributeError, IndexError):
            pass  # an entry of another shape: read the distribution again
    return _read_distribution(info_dir, ep_stamp, record_stamp, cache, paths)


def _read_distribution(
    info_dir: str, ep_stamp: list[int], record_stamp: list[int] | None, cache: DiscoveryCache, paths: list[str]
) -> tuple[PluginDistribution, dict[str, Any]] | None:
    with open(os.path.join(info_dir, "entry_points.txt"), encoding="utf-8", errors="replace") as handle:
        entry_points = parse_entry_points(handle.read())
    if not any(group in entry_points for group in _GROUPS):
        cache.put(info_dir, {"stamp": [ep_stamp, record_stamp, {}], "dist": None})
        return None
    name, version = _metadata_name_version(info_dir)
    manifests: dict[str, Any] = {}
    for path in _manifest_paths(entry_points, paths):
        try:
            manifests[path] = load_manifest_json(_as_path(path))
        except ManifestError as exc:
            manifests[path] = {"__error__": exc.message}
    dist = PluginDistribution(name, version, info_dir, entry_points, list(manifests))
    found = _examine(dist, manifests)
    stamp = [ep_stamp, record_stamp, {p: file_stamp(p) for p in manifests}]
    cache.put(
        info_dir,
        {"stamp": stamp, "dist": {"name": name, "version": version, "entry_points": entry_points}, "found": found},
    )
    return dist, found


def load_manifest_json(path: Any) -> Any:
    """:func:`sora_core.manifest.load_manifest_json`, imported only when a manifest is actually read."""
    from sora_core.manifest import load_manifest_json as load

    return load(path)


def _as_path(path: str) -> Any:
    from pathlib import Path

    return Path(path)


def parse_entry_points(text: str) -> dict[str, dict[str, str]]:
    groups: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = groups.setdefault(line[1:-1].strip(), {})
        elif current is not None and "=" in line:
            name, _, value = line.partition("=")
            current[name.strip()] = value.split("[")[0].strip()
    return {g: eps for g, eps in groups.items() if g in _GROUPS}


def _metadata_name_version(info_dir: str) -> tuple[str, str]:
    """Name and version from METADATA/PKG-INFO headers (authoritative, unlike the dir name)."""
    name = version = ""
    for filename in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(info_dir, filename), encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    if not line.strip():
                        break
                    if line.startswith("Name:"):
                        name = line[5:].strip()
                    elif line.startswith("Version:"):
                        version = line[8:].strip()
        except OSError:
            continue
        break
    if not name:
        name, version = _name_version(os.path.basename(info_dir))
    return canonical_dist_name(name), version


def _manifest_paths(entry_points: dict[str, dict[str, str]], search_paths: list[str]) -> list[str]:
    """The manifest of each top-level package the particles live in, found without importing it.

    The package is looked up on the searched paths first, then through the whole
    import system (editable installs register their own finders).
    """
    import importlib.util
    from importlib.machinery import PathFinder

    from sora_core.manifest import MANIFEST_NAME

    packages = {value.split(":")[0].split(".")[0] for value in entry_points.get(PARTICLES_GROUP, {}).values()}
    manifests = []
    for package in sorted(packages):
        try:
            spec = PathFinder.find_spec(package, search_paths) or importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            manifests.append(f"<package {package!r} not found>")
            continue
        manifests.append(os.path.join(next(iter(spec.submodule_search_locations)), MANIFEST_NAME))
    return manifests


def _examine(dist: PluginDistribution, raw_manifests: dict[str, Any]) -> dict[str, Any]:
    """Validate what ``dist`` contributes, as the JSON the cache keeps: particles, kinds, spaces, templates, problems.

    ``raw_manifests`` maps each manifest path to its JSON (``{"__error__": message}`` when unreadable).
    """
    from sora_core.manifest import parse_manifest, particle_info

    particles = dist.entry_points.get(PARTICLES_GROUP, {})
    found: dict[str, Any] = {"particles": [], "problems": [], "kinds": [], "spaces": [], "templates": []}
    problems = found["problems"]
    manifests = {}
    for path, data in raw_manifests.items():
        if path.startswith("<package"):
            problems.append([f"{path[1:-1]} on sys.path", "reinstall the plugin", None])
            continue
        try:
            if isinstance(data, dict) and "__error__" in data:
                raise ManifestError(data["__error__"], "regenerate it with `sora manifest DIST --write`")
            manifests[path] = parse_manifest(data, _as_path(path))
        except ManifestError as exc:
            problems.append([exc.message, exc.hint or "", None])
    for manifest in manifests.values():
        found["kinds"] += [kind.to_dict() for kind in manifest.kinds]
        found["spaces"] += [[space.tag, space.description] for space in manifest.spaces]
        found["templates"] += manifest.templates
    wanted: list[tuple[str, str, Any]] = []  # (particle, entry point, its manifest) in listing order
    for name, value in particles.items():
        package = value.split(":")[0].split(".")[0]
        manifest = next((m for p, m in manifests.items() if _package_of(p) == package), None)
        if manifest is not None:  # else already reported as a manifest problem
            wanted.append((name, value, manifest))
    for manifest in manifests.values():  # particles a hook contributes: no entry point of their own
        wanted += [
            (name, "", manifest)
            for name, entry in manifest.particles.items()
            if name not in particles and isinstance(entry, dict) and entry.get("source") == "hook"
        ]
    for name, value, manifest in wanted:
        try:
            info = particle_info(manifest, name, dist.name, dist.version, value)
        except ManifestError as exc:
            problems.append([exc.message, exc.hint or "", name])
            continue
        found["particles"].append(_info_to_json(info))
    return found


def _merge(catalog: Catalog, dist: PluginDistribution, found: dict[str, Any]) -> None:
    """Add what one distribution contributes (:func:`_examine`'s JSON) to ``catalog``; the first kind,
    space or template of a name wins."""
    for kind in found["kinds"]:
        if kind["name"] not in catalog.kinds:
            catalog.kinds[kind["name"]] = _kind_from_json(kind)
    for tag, description in found["spaces"]:
        if tag not in catalog.spaces:
            catalog.spaces[tag] = SpaceSpec(tag, description)
    for template in found["templates"]:
        catalog.templates.setdefault(template, dist.name)
    catalog.particles += [_info_from_json(data, dist) for data in found["particles"]]
    catalog.problems += [
        PluginProblem(dist.name, reason, hint, particle) for reason, hint, particle in found["problems"]
    ]


def _info_to_json(info: ParticleInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "entry_point": info.entry_point,
        "kind": info.kind,
        "description": info.description,
        "inputs": {name: _port_to_json(spec) for name, spec in info.inputs.items()},
        "outputs": {name: _port_to_json(spec) for name, spec in info.outputs.items()},
        "config_schema": info.config_schema,
        "default_config": info.default_config,
        "default_weights": info.default_weights,
        "pretrained_on_create": info.pretrained_on_create,
        "source": info.source,
    }


def _port_to_json(spec: PortSpec) -> list[Any]:
    return [spec.dtype, spec.shape, spec.space, spec.optional, spec.description]


# The objects below are rebuilt from what _examine validated when the distribution was read, so they
# are made without validating again: that is the point of a warm listing.


def _info_from_json(data: dict[str, Any], dist: PluginDistribution) -> ParticleInfo:
    info = object.__new__(ParticleInfo)
    info.__dict__.update(
        data,
        dist=dist.name,
        dist_version=dist.version,
        inputs={name: _port_from_json(spec) for name, spec in data["inputs"].items()},
        outputs={name: _port_from_json(spec) for name, spec in data["outputs"].items()},
    )
    return info


_SHAPES: dict[str, tuple[Dim, ...]] = {}  # parsed shapes are immutable: one parse per distinct shape string


def _port_from_json(data: list[Any]) -> PortSpec:
    dtype, shape, space, optional, description = data
    dims = _SHAPES.get(shape)
    if dims is None:
        dims = _SHAPES[shape] = parse_shape(shape)
    spec = object.__new__(PortSpec)
    spec.__dict__.update(dtype=dtype, shape=shape, space=space, optional=optional, description=description, dims=dims)
    return spec


def _kind_from_json(data: dict[str, Any]) -> KindSpec:
    return KindSpec(
        name=data["name"],
        description=data["description"],
        inputs=tuple(data["inputs"]),
        outputs=tuple(data["outputs"]),
        inputs_one_of=tuple(data["inputs_one_of"]),
        learned=data["learned"],
        contributed_by=data["contributed_by"],
    )


def _package_of(manifest_path: str) -> str:
    return os.path.basename(os.path.dirname(manifest_path))
