"""Finding installed particles without importing any plugin.

Discovery walks ``sys.path`` for distributions with ``sora.particles`` or
``sora.plugins`` entry points, and reads each plugin's static manifest. What it
reads is cached per distribution, keyed on the distribution's name, version and
the stat of its files (``RECORD``, ``entry_points.txt``, the manifests), so a
second listing re-reads nothing that did not change. No torch, pydantic or
plugin module is imported here.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass, field
from importlib.machinery import PathFinder
from pathlib import Path
from typing import Any

from sora_core.discovery_cache import DiscoveryCache, file_stamp
from sora_core.errors import ManifestError
from sora_core.kinds import BUILTIN_KINDS, KindSpec
from sora_core.manifest import MANIFEST_NAME, load_manifest_json, parse_manifest, particle_info
from sora_core.metadata import ParticleInfo, PluginProblem
from sora_core.spaces import SpaceSpec
from sora_core.text import canonical_dist_name

PARTICLES_GROUP = "sora.particles"
PLUGINS_GROUP = "sora.plugins"
_GROUPS = (PARTICLES_GROUP, PLUGINS_GROUP)


@dataclass
class PluginDistribution:
    """One installed distribution that contributes to sora."""

    name: str
    version: str
    path: str
    entry_points: dict[str, dict[str, str]]
    manifests: dict[str, Any]

    @property
    def plugin_modules(self) -> dict[str, str]:
        return self.entry_points.get(PLUGINS_GROUP, {})


@dataclass
class Catalog:
    """Everything discovery found: particles, kinds, spaces and problems."""

    particles: list[ParticleInfo] = field(default_factory=list)
    problems: list[PluginProblem] = field(default_factory=list)
    kinds: dict[str, KindSpec] = field(default_factory=lambda: dict(BUILTIN_KINDS))
    spaces: dict[str, SpaceSpec] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)
    distributions: list[PluginDistribution] = field(default_factory=list)


def discover(paths: list[str] | None = None, cache: DiscoveryCache | None = None) -> Catalog:
    """Find every sora plugin on ``paths`` (default ``sys.path``) and build a :class:`Catalog`."""
    cache = cache if cache is not None else DiscoveryCache.default()
    catalog = Catalog()
    for dist in _plugin_distributions(paths if paths is not None else sys.path, cache):
        catalog.distributions.append(dist)
        _add_distribution(catalog, dist)
    cache.save()
    return catalog


def _plugin_distributions(paths: list[str], cache: DiscoveryCache) -> list[PluginDistribution]:
    seen: set[str] = set()
    found: list[PluginDistribution] = []
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
            dist = _load_distribution(info_dir, ep_stamp, cache, paths)
            if dist is not None:
                found.append(dist)
    return found


def _name_version(dirname: str) -> tuple[str, str]:
    stem = dirname.rsplit(".", 1)[0]
    name, _, version = stem.partition("-")
    return name, version.split("-")[0]


def _load_distribution(
    info_dir: str, ep_stamp: list[int], cache: DiscoveryCache, paths: list[str]
) -> PluginDistribution | None:
    record_stamp = file_stamp(os.path.join(info_dir, "RECORD"))
    cached = cache.get(info_dir)
    if cached is not None:
        manifest_stamps = {p: file_stamp(p) for p in cached["manifests"]}
        if cached["stamp"] == [ep_stamp, record_stamp, manifest_stamps]:
            return _from_cache(info_dir, cached)
    entry_points = parse_entry_points(Path(info_dir, "entry_points.txt").read_text(encoding="utf-8", errors="replace"))
    if not any(group in entry_points for group in _GROUPS):
        cache.put(info_dir, {"stamp": [ep_stamp, record_stamp, {}], "manifests": {}, "dist": None})
        return None
    name, version = _metadata_name_version(info_dir)
    manifests: dict[str, Any] = {}
    for path in _manifest_paths(entry_points, paths):
        try:
            manifests[path] = load_manifest_json(Path(path))
        except ManifestError as exc:
            manifests[path] = {"__error__": exc.message}
    dist_data = {"name": name, "version": version, "entry_points": entry_points, "manifests": manifests}
    stamp = [ep_stamp, record_stamp, {p: file_stamp(p) for p in manifests}]
    cache.put(info_dir, {"stamp": stamp, "manifests": list(manifests), "dist": dist_data})
    return PluginDistribution(path=info_dir, **dist_data)


def _from_cache(info_dir: str, cached: dict[str, Any]) -> PluginDistribution | None:
    data = cached["dist"]
    return None if data is None else PluginDistribution(path=info_dir, **data)


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


def _add_distribution(catalog: Catalog, dist: PluginDistribution) -> None:
    particles = dist.entry_points.get(PARTICLES_GROUP, {})
    manifests = {}
    for path, data in dist.manifests.items():
        if path.startswith("<package"):
            catalog.problems.append(PluginProblem(dist.name, f"{path[1:-1]} on sys.path", "reinstall the plugin"))
            continue
        try:
            if isinstance(data, dict) and "__error__" in data:
                raise ManifestError(data["__error__"], "regenerate it with `sora manifest DIST --write`")
            manifests[path] = parse_manifest(data, Path(path))
        except ManifestError as exc:
            catalog.problems.append(PluginProblem(dist.name, exc.message, exc.hint or ""))
    for manifest in manifests.values():
        for kind in manifest.kinds:
            catalog.kinds.setdefault(kind.name, kind)
        for space in manifest.spaces:
            catalog.spaces.setdefault(space.tag, space)
        for template in manifest.templates:
            catalog.templates.setdefault(template, dist.name)
    for name, value in particles.items():
        package = value.split(":")[0].split(".")[0]
        manifest = next((m for p, m in manifests.items() if _package_of(p) == package), None)
        if manifest is None:
            continue  # already reported as a manifest problem
        try:
            catalog.particles.append(particle_info(manifest, name, dist.name, dist.version, value))
        except ManifestError as exc:
            catalog.problems.append(PluginProblem(dist.name, exc.message, exc.hint or "", particle=name))
    for manifest in manifests.values():
        for name, entry in manifest.particles.items():
            if name not in particles and isinstance(entry, dict) and entry.get("source") == "hook":
                try:
                    catalog.particles.append(particle_info(manifest, name, dist.name, dist.version, ""))
                except ManifestError as exc:
                    catalog.problems.append(PluginProblem(dist.name, exc.message, exc.hint or "", particle=name))


def _package_of(manifest_path: str) -> str:
    return os.path.basename(os.path.dirname(manifest_path))
