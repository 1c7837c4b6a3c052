"""What listing knows about a particle without importing it (torch- and pydantic-free)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sora_core.ports import PortSpec


@dataclass(frozen=True)
class ParticleInfo:
    """Static metadata of one installed particle, read from its plugin's manifest."""

    name: str
    dist: str
    dist_version: str
    entry_point: str
    kind: str
    description: str = ""
    inputs: dict[str, PortSpec] = field(default_factory=dict)
    outputs: dict[str, PortSpec] = field(default_factory=dict)
    config_schema: dict[str, Any] = field(default_factory=dict)
    default_config: dict[str, Any] = field(default_factory=dict)
    default_weights: str | None = None
    pretrained_on_create: bool = False
    source: str = "entry-point"

    @property
    def full_name(self) -> str:
        return f"{self.dist}:{self.name}"

    def spaces(self) -> set[str]:
        """Every space tag or pattern on any of its ports."""
        return {p.space for p in (*self.inputs.values(), *self.outputs.values()) if p.space}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.full_name,
            "short_name": self.name,
            "kind": self.kind,
            "description": self.description,
            "distribution": self.dist,
            "version": self.dist_version,
            "entry_point": self.entry_point,
            "inputs": {k: v.to_dict() for k, v in self.inputs.items()},
            "outputs": {k: v.to_dict() for k, v in self.outputs.items()},
            "config_schema": self.config_schema,
            "default_config": self.default_config,
            "default_weights": self.default_weights,
            "pretrained_on_create": self.pretrained_on_create,
            "source": self.source,
        }


@dataclass(frozen=True)
class PluginProblem:
    """A plugin (or one of its particles) that cannot be used, and why."""

    dist: str
    reason: str
    hint: str = ""
    particle: str | None = None

    @property
    def subject(self) -> str:
        return f"{self.dist}:{self.particle}" if self.particle else self.dist

    def to_dict(self) -> dict[str, Any]:
        return {"plugin": self.dist, "particle": self.particle, "reason": self.reason, "hint": self.hint}
