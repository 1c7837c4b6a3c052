"""Generating a plugin's ``sora_manifest.json`` from its code (this imports the plugin and torch)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import importlib_metadata

from sora_core.atomic import atomic_write_text
from sora_core.discovery import PARTICLES_GROUP, PluginDistribution, discover
from sora_core.errors import BrokenPluginError, ManifestError, SoraError
from sora_core.manifest import MANIFEST_FORMAT, MANIFEST_NAME
from sora_core.particle import Particle
from sora_core.plugin_manager import SoraPluginManager
from sora_core.text import canonical_dist_name


def describe_class(cls: type[Particle]) -> dict[str, Any]:
    """A manifest entry for ``cls``: kind, ports and config of its default instance.

    The instance is built on torch's meta device, so no weights are allocated.
    """
    import torch

    try:
        with torch.device("meta"):
            particle = cls()
    except SoraError:
        raise
    except Exception as exc:
        raise BrokenPluginError(
            cls.__module__.split(".")[0],
            f"{cls.__qualname__}() with its default config failed: {type(exc).__name__}: {exc}",
            "every particle must be constructible with its default config",
        ) from exc
    entry: dict[str, Any] = {
        "entry_point": f"{cls.__module__}:{cls.__qualname__}",
        "kind": cls.kind,
        "description": cls.description or _first_line(cls.__doc__),
        "inputs": {name: spec.to_dict() for name, spec in particle.input_ports().items()},
        "outputs": {name: spec.to_dict() for name, spec in particle.output_ports().items()},
        "config_schema": cls.Config.model_json_schema(),
        "default_config": particle.config.model_dump(mode="json"),
        "default_weights": cls.default_weights,
        "source": "entry-point",
    }
    if cls.pretrained_on_create:  # written only when set, so older manifests stay current
        entry["pretrained_on_create"] = True
    weights_ports = _default_weights_ports(cls, entry)
    if weights_ports is not None:  # written only when they differ from the default config's ports
        entry["default_weights_ports"] = weights_ports
    return entry


def _default_weights_ports(cls: type[Particle], entry: dict[str, Any]) -> dict[str, Any] | None:
    """The ports of the config ``cls``'s default weights load, when they differ from its default config's.

    ``sora info`` shows them (the t2v denoiser's weights read ``D=384`` MiniLM text; its default config
    ``D=256``) without importing torch. Built on the meta device from the folder's config, no weights read.
    """
    import importlib.util

    import torch

    if not cls.default_weights:
        return None
    spec = importlib.util.find_spec(cls.__module__.split(".")[0])
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)), cls.default_weights)
    try:
        config = cls.pretrained_config(folder)
        with torch.device("meta"):
            particle = cls(config)
    except (SoraError, OSError, ValueError):
        return None  # missing or unreadable default weights are reported by the conformance kit
    ports = {
        "inputs": {name: spec.to_dict() for name, spec in particle.input_ports().items()},
        "outputs": {name: spec.to_dict() for name, spec in particle.output_ports().items()},
    }
    same = ports["inputs"] == entry["inputs"] and ports["outputs"] == entry["outputs"]
    return None if same else ports


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def find_distribution(dist: str) -> PluginDistribution:
    """The installed plugin distribution called ``dist``."""
    wanted = canonical_dist_name(dist)
    for candidate in discover().distributions:
        if candidate.name == wanted:
            return candidate
    raise ManifestError(
        f"no installed distribution {dist!r} declares sora entry points",
        f"install it (pip install -e PATH) and declare [project.entry-points.{PARTICLES_GROUP!r}]",
    )


def build_manifests(dist: str) -> dict[Path, dict[str, Any]]:
    """The manifest each top-level package of ``dist`` should ship, by file path.

    While its particles are described, ``dist:name`` resolves to them through the default registry
    even before any manifest lists them, so a particle may create its siblings by name.
    """
    from sora_core.registry import default_registry

    found = find_distribution(dist)
    manager = SoraPluginManager()
    for name, module in found.plugin_modules.items():
        manager.load_plugin_module(found.name, name, module)
    if manager.problems:
        problem = manager.problems[0]
        raise BrokenPluginError(found.name, problem.reason, problem.hint)
    classes: dict[str, type[Particle]] = {}
    for name, value in found.entry_points.get(PARTICLES_GROUP, {}).items():
        entry_point = importlib_metadata.EntryPoint(name=name, value=value, group=PARTICLES_GROUP)
        try:
            cls = entry_point.load()
        except Exception as exc:
            raise BrokenPluginError(found.name, f"importing {value!r} failed: {type(exc).__name__}: {exc}") from exc
        if not (isinstance(cls, type) and issubclass(cls, Particle)):
            raise BrokenPluginError(found.name, f"entry point {name!r} = {value!r} is not a Particle subclass")
        classes[name] = cls
    hook_particles = manager.particle_classes(found.name)
    manifests: dict[Path, dict[str, Any]] = {}
    with default_registry.provisional(found.name, {**hook_particles, **classes}):
        for name, value in found.entry_points.get(PARTICLES_GROUP, {}).items():
            manifest = manifests.setdefault(_manifest_path(value), _empty(found.name))
            manifest["particles"][name] = describe_class(classes[name])
            manifest["particles"][name]["entry_point"] = value
        hook_descriptions = {name: describe_class(cls) for name, cls in hook_particles.items()}
    kinds = [k.to_dict() for ks in manager.hook.sora_register_kinds() for k in ks or ()]
    spaces = [s.to_dict() for ss in manager.hook.sora_register_spaces() for s in ss or ()]
    templates = sorted(t for ts in manager.hook.sora_register_templates() for t in (ts or {}))
    if not manifests:
        if not hook_particles:
            raise ManifestError(f"distribution {found.name} declares no particles", "add sora.particles entry points")
        first = next(iter(hook_particles.values()))
        manifests[_manifest_path(first.__module__)] = _empty(found.name)
    primary = next(iter(manifests.values()))
    for name, description in hook_descriptions.items():
        primary["particles"][name] = {**description, "source": "hook"}
    primary.update(kinds=kinds, spaces=spaces, templates=templates)
    return manifests


def _empty(dist: str) -> dict[str, Any]:
    return {
        "format": MANIFEST_FORMAT,
        "distribution": dist,
        "particles": {},
        "kinds": [],
        "spaces": [],
        "templates": [],
    }


def _manifest_path(entry_point_value: str) -> Path:
    import importlib.util

    package = entry_point_value.split(":")[0].split(".")[0]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ManifestError(
            f"package {package!r} is not a package directory",
            "put particles in a package (a directory with __init__.py) so the manifest can live beside it",
        )
    return Path(next(iter(spec.submodule_search_locations)), MANIFEST_NAME)


def render(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2) + "\n"


def write_manifests(dist: str) -> list[Path]:
    """Regenerate and atomically write every manifest of ``dist``; return their paths."""
    written = []
    for path, manifest in build_manifests(dist).items():
        atomic_write_text(path, render(manifest))
        written.append(path)
    return written


def stale_manifests(dist: str) -> list[str]:
    """Explain every manifest of ``dist`` that differs from what its code declares."""
    problems = []
    for path, manifest in build_manifests(dist).items():
        try:
            current = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            problems.append(f"{path} is missing or unreadable")
            continue
        if current != json.loads(render(manifest)):
            changed = sorted(
                name
                for name in set(current.get("particles", {})) | set(manifest["particles"])
                if current.get("particles", {}).get(name) != json.loads(render(manifest))["particles"].get(name)
            )
            what = ", ".join(changed) if changed else "kinds, spaces or templates"
            problems.append(f"{path} is out of date ({what})")
    return problems
