"""The particle base class, shared by learned (``nn.Module``) and weightless particles.

This module imports no torch: a weightless particle (a scheduler, a tokenizer)
needs none, and learned particles get torch through :mod:`sora_core.interfaces`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import Any, ClassVar, TypeVar

from sora_core.config import ParticleConfig, validate_config
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

    def save_pretrained(self, directory: str | os.PathLike[str], *, max_shard_size: int | str | None = None) -> None:
        """Write ``config.json``, safetensors weights and a sha256 manifest to ``directory``."""
        from sora_core.weights import save_pretrained

        save_pretrained(self, directory, max_shard_size=max_shard_size)

    @classmethod
    def from_pretrained(
        cls: type[P],
        directory: str | os.PathLike[str],
        *,
        dtype: Any = None,
        device: Any = None,
        verify: bool = True,
    ) -> P:
        """Build this particle from a directory written by :meth:`save_pretrained`."""
        from sora_core.weights import load_pretrained

        return load_pretrained(cls, directory, dtype=dtype, device=device, verify=verify)


class WeightlessParticle(Particle):
    """A particle without learned weights: called directly, saved as config only."""

    def __call__(self, **inputs: Any) -> dict[str, Any]:
        return self.forward(**inputs)
