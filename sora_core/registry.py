"""The registry: list, describe, create and load particles by name.

Listing and describing read static metadata only (see :mod:`sora_core.discovery`);
creating or loading a particle imports its plugin, and reports a plugin that
fails to import as a :class:`~sora_core.errors.BrokenPluginError`.

Module-level functions act on a default registry over ``sys.path``::

    from sora_core import registry
    registry.list(kind="text_encoder")
    encoder = registry.create("sora-seed:lstm-text-encoder", hidden_size=128)
"""

from __future__ import annotations

import builtins
import fnmatch
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from sora_core.discovery import PARTICLES_GROUP, Catalog, discover
from sora_core.errors import (
    BrokenPluginError,
    MissingWeightsError,
    SoraError,
    UnknownParticleClassError,
    WeightsError,
)
from sora_core.kinds import KindSpec
from sora_core.metadata import ParticleInfo, PluginProblem
from sora_core.naming import resolve
from sora_core.ports import PortSpec
from sora_core.spaces import SpaceSpec
from sora_core.text import canonical_dist_name

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (about 3 ms of `sora list`)
if TYPE_CHECKING:
    from typing import Any

    import pluggy

    from sora_core.particle import Particle

RUNTIME_DIST = "runtime"


class Registry:
    """Installed particles, kinds, spaces and plugin problems, discovered lazily."""

    def __init__(self, paths: builtins.list[str] | None = None) -> None:
        self._paths = paths
        self._catalog: Catalog | None = None
        self._runtime: dict[str, tuple[ParticleInfo, type[Particle]]] = {}
        self._plugins: Any = None

    # --- static metadata --------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = discover(self._paths)
        return self._catalog

    def refresh(self) -> None:
        """Forget what was discovered (after installing or removing a plugin)."""
        self._catalog = None
        self._plugins = None

    def all(self) -> builtins.list[ParticleInfo]:
        return [*self.catalog.particles, *(info for info, _ in self._runtime.values())]

    def list(
        self, kind: str | None = None, space: str | None = None, pattern: str | None = None
    ) -> builtins.list[ParticleInfo]:
        """Particles filtered by kind, space and name; each filter accepts ``*``/``?`` wildcards.

        ``pattern`` matches the full name (``dist:name``) or the short name;
        ``space`` matches any port's space tag.
        """
        found = []
        for info in self.all():
            if kind and not fnmatch.fnmatchcase(info.kind, kind):
                continue
            if space and not any(fnmatch.fnmatchcase(tag, space) for tag in info.spaces()):
                continue
            if pattern and not (
                fnmatch.fnmatchcase(info.full_name, pattern) or fnmatch.fnmatchcase(info.name, pattern)
            ):
                continue
            found.append(info)
        return sorted(found, key=lambda i: i.full_name)

    def info(self, name: str) -> ParticleInfo:
        """The metadata of one particle; raises on unknown or ambiguous names."""
        return resolve(name, self.all())

    def kinds(self, load_hooks: bool = True) -> dict[str, KindSpec]:
        """Built-in kinds plus those plugins declare in their manifests and (unless ``load_hooks=False``) hooks."""
        found = dict(self.catalog.kinds)
        if load_hooks:
            for kinds in self.plugin_manager().hook.sora_register_kinds():
                for kind in kinds or ():
                    found.setdefault(kind.name, kind)
        return found

    def spaces(self, load_hooks: bool = True) -> dict[str, SpaceSpec]:
        """Spaces plugins declare in their manifests and (unless ``load_hooks=False``) hooks."""
        found = dict(self.catalog.spaces)
        if load_hooks:
            for spaces in self.plugin_manager().hook.sora_register_spaces():
                for space in spaces or ():
                    found.setdefault(space.tag, space)
        return found

    def problems(self) -> builtins.list[PluginProblem]:
        """Plugins or particles that cannot be used, found so far."""
        found = builtins.list(self.catalog.problems)
        if self._plugins is not None:
            found += self._plugins.problems
        return found

    # --- code ---------------------------------------------------------------------------

    def get_class(self, name: str) -> type[Particle]:
        """Import and return the class of particle ``name``."""
        info = self.info(name)
        if info.full_name in self._runtime:
            return self._runtime[info.full_name][1]
        from sora_core.loading import load_particle_class

        if info.source == "hook":
            return load_particle_class(info, self.plugin_manager().particle_classes(info.dist))
        return load_particle_class(info, None)

    def installed_by_class(self, qualified: str) -> ParticleInfo | None:
        """The particle whose entry point is exactly ``module:Class`` ``qualified``, found without importing."""
        matches = [info for info in self.all() if info.entry_point == qualified]
        return matches[0] if len(matches) == 1 else None

    def class_for_config(self, payload: Mapping[str, Any], config_path: str | os.PathLike[str]) -> type[Particle]:
        """The class a weights folder's ``config.json`` names, imported only as an installed entry point.

        See :meth:`info_for_config`; nothing the file says is imported otherwise, so a folder's own files stay data.
        """
        hint = (
            "install the plugin that provides it (`sora list` shows what is installed), or load the folder with "
            "the particle it was saved by: registry.load('DIST:NAME', weights=DIR)"
        )
        return self.get_class(self.info_for_config(payload, config_path, hint).full_name)

    def info_for_config(
        self, payload: Mapping[str, Any], config_path: str | os.PathLike[str], hint: str
    ) -> ParticleInfo:
        """The installed particle a weights folder's ``config.json`` names, found without importing anything.

        ``payload["name"]`` (``dist:name``, written by ``save_pretrained``) is resolved through the registry;
        without it, ``payload["particle"]`` (``module:Class``) must equal exactly one installed entry point's
        value. Otherwise an ``UnknownParticleClassError`` naming ``config_path``, with ``hint``.
        """
        name, stored = payload.get("name"), payload.get("particle")
        if isinstance(name, str):
            try:
                return self.info(name)
            except SoraError as exc:
                raise UnknownParticleClassError(
                    f"{config_path} names particle {name!r}, which is not installed: {exc.message}", hint
                ) from None
        found = self.installed_by_class(str(stored))
        if found is None:
            raise UnknownParticleClassError(
                f"{config_path} names class {stored!r}, which no installed distribution provides as a "
                f"sora.particles entry point (it is never imported from the file's text)",
                hint,
            )
        return found

    def create(self, name: str, **config: Any) -> Particle:
        """A new particle ``name`` with default weights initialisation and ``config`` overrides."""
        from sora_core.config import validate_config

        info = self.info(name)
        cls = self.get_class(name)
        validated = validate_config(cls.Config, None, config, info.full_name)
        try:
            particle = cls(validated)
        except (MemoryError, OverflowError, RuntimeError) as exc:
            from sora_core.limits import construction_error, is_allocation_failure

            if not is_allocation_failure(exc):
                raise
            raise construction_error(info.full_name, config, exc) from None
        particle.registered_name = info.full_name
        return particle

    def load(
        self,
        name: str,
        weights: str | os.PathLike[str] | None = None,
        device: Any = None,
        dtype: Any = None,
        verify: bool = True,
        config: Mapping[str, Any] | None = None,
    ) -> Particle:
        """Particle ``name`` built from pretrained ``weights`` (default: the weights its plugin ships).

        ``config`` overrides are accepted only by particles whose weights are in a foreign layout (a diffusers
        component folder carries the model's config; the particle's own run options may still be set)."""
        info = self.info(name)
        directory = weights if weights is not None else info.default_weights
        if directory is None and info.pretrained_on_create:
            return self._pretrained(info, device, dtype)
        if directory is None:
            raise MissingWeightsError(
                f"particle {info.full_name} ships no default weights",
                "pass weights=DIR (a directory written by save_pretrained)",
            )
        cls = self.get_class(name)
        if weights is not None and cls.weights_format == "sora":
            _check_saved_name(info, Path(weights))
        extra = {"overrides": dict(config)} if config else {}
        particle = cls.from_pretrained(directory, device=device, dtype=dtype, verify=verify, **extra)
        particle.registered_name = info.full_name
        return particle

    def _pretrained(self, info: ParticleInfo, device: Any, dtype: Any) -> Particle:
        """A particle whose constructor loads its own pretrained weights, placed and cast like a load."""
        from sora_core.weights import resolve_dtype

        particle = self.create(info.full_name)
        if hasattr(particle, "to"):
            if dtype is not None:
                particle = particle.to(dtype=resolve_dtype(dtype))
            if device is not None:
                particle = particle.to(device=device)
            particle.eval()
        return particle

    @contextmanager
    def provisional(self, dist: str, classes: Mapping[str, type[Particle]]) -> Iterator[None]:
        """Let ``dist``'s own particles resolve as ``dist:name`` while its manifest is being written.

        A particle that builds a sibling by name in its constructor (a denoiser creating its
        patchifier) could not be described before the manifest listing that sibling existed.
        Particles the installed manifest already lists resolve as usual.
        """
        listed = {info.full_name for info in self.catalog.particles}
        added = []
        for name, cls in classes.items():
            entry_point = f"{cls.__module__}:{cls.__qualname__}"
            info = ParticleInfo(name, canonical_dist_name(dist), "", entry_point, cls.kind, source="provisional")
            if info.full_name not in listed and info.full_name not in self._runtime:
                self._runtime[info.full_name] = (info, cls)
                added.append(info.full_name)
        try:
            yield
        finally:
            for full_name in added:
                self._runtime.pop(full_name, None)

    def register(self, name: str, cls: type[Particle]) -> ParticleInfo:
        """Register a particle class at run time as ``runtime:name`` (for code-first use and tests)."""
        from sora_core.manifest_builder import describe_class

        entry = describe_class(cls)
        entry["inputs"] = {k: PortSpec.from_dict(v) for k, v in entry["inputs"].items()}
        entry["outputs"] = {k: PortSpec.from_dict(v) for k, v in entry["outputs"].items()}
        info = ParticleInfo(
            name=name,
            dist=RUNTIME_DIST,
            dist_version="",
            entry_point=f"{cls.__module__}:{cls.__qualname__}",
            source="runtime",
            **{k: v for k, v in entry.items() if k not in {"entry_point", "source"}},
        )
        self._runtime[info.full_name] = (info, cls)
        return info

    def plugin_manager(self) -> pluggy.PluginManager:
        """The pluggy manager with every ``sora.plugins`` module loaded (broken ones reported)."""
        if self._plugins is None:
            from sora_core.plugin_manager import SoraPluginManager

            self._plugins = SoraPluginManager.from_distributions(self.catalog.distributions)
        return self._plugins


def _check_saved_name(info: ParticleInfo, weights: Path) -> None:
    """Refuse a folder whose ``config.json`` says another particle saved it (a mislabelled or swapped folder)."""
    from sora_core.safetensors_io import CONFIG_NAME, NAME_KEY, check_directory_files, read_config

    folder = weights if weights.is_dir() else weights.parent
    if not (folder / CONFIG_NAME).exists():
        return  # a lone .safetensors file, or a missing folder: the load itself reports it
    check_directory_files(folder)
    saved = read_config(folder).get(NAME_KEY)
    if saved is not None and saved != info.full_name:
        raise WeightsError(
            f"{folder / CONFIG_NAME} was saved by particle {saved}, not {info.full_name}",
            f"load it as {saved} (registry.load({saved!r}, weights=...)), or pass weights saved by {info.full_name}",
        )


default_registry = Registry()


def list(kind: str | None = None, space: str | None = None, pattern: str | None = None) -> builtins.list[ParticleInfo]:
    """See :meth:`Registry.list`."""
    return default_registry.list(kind=kind, space=space, pattern=pattern)


def info(name: str) -> ParticleInfo:
    """See :meth:`Registry.info`."""
    return default_registry.info(name)


def get_class(name: str) -> type[Particle]:
    """See :meth:`Registry.get_class`."""
    return default_registry.get_class(name)


def create(name: str, **config: Any) -> Particle:
    """See :meth:`Registry.create`."""
    return default_registry.create(name, **config)


def load(
    name: str,
    weights: str | os.PathLike[str] | None = None,
    device: Any = None,
    dtype: Any = None,
    config: Mapping[str, Any] | None = None,
) -> Particle:
    """See :meth:`Registry.load`."""
    return default_registry.load(name, weights=weights, device=device, dtype=dtype, config=config)


def kinds() -> dict[str, KindSpec]:
    """See :meth:`Registry.kinds`."""
    return default_registry.kinds()


def spaces() -> dict[str, SpaceSpec]:
    """See :meth:`Registry.spaces`."""
    return default_registry.spaces()


def problems() -> builtins.list[PluginProblem]:
    """See :meth:`Registry.problems`."""
    return default_registry.problems()


def register(name: str, cls: type[Particle]) -> ParticleInfo:
    """See :meth:`Registry.register`."""
    return default_registry.register(name, cls)


def refresh() -> None:
    """See :meth:`Registry.refresh`."""
    default_registry.refresh()


__all__ = [
    "PARTICLES_GROUP",
    "BrokenPluginError",
    "Registry",
    "create",
    "default_registry",
    "get_class",
    "info",
    "kinds",
    "list",
    "load",
    "problems",
    "refresh",
    "register",
    "spaces",
]
