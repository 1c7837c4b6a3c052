"""What listing knows about a particle without importing it (torch- and pydantic-free)."""

from __future__ import annotations

from sora_core.ports import PortSpec
from sora_core.records import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (about 3 ms of `sora list`)
if TYPE_CHECKING:
    from typing import Any


class ParticleInfo(Record):
    """Static metadata of one installed particle, read from its plugin's manifest."""

    _fields = __match_args__ = (
        "name",
        "dist",
        "dist_version",
        "entry_point",
        "kind",
        "description",
        "inputs",
        "outputs",
        "config_schema",
        "default_config",
        "default_weights",
        "pretrained_on_create",
        "source",
    )
    name: str
    dist: str
    dist_version: str
    entry_point: str
    kind: str
    description: str
    inputs: dict[str, PortSpec]
    outputs: dict[str, PortSpec]
    config_schema: dict[str, Any]
    default_config: dict[str, Any]
    default_weights: str | None
    pretrained_on_create: bool
    source: str

    def __init__(
        self,
        name: str,
        dist: str,
        dist_version: str,
        entry_point: str,
        kind: str,
        description: str = "",
        inputs: dict[str, PortSpec] | None = None,
        outputs: dict[str, PortSpec] | None = None,
        config_schema: dict[str, Any] | None = None,
        default_config: dict[str, Any] | None = None,
        default_weights: str | None = None,
        pretrained_on_create: bool = False,
        source: str = "entry-point",
    ) -> None:
        self.__dict__.update(
            name=name,
            dist=dist,
            dist_version=dist_version,
            entry_point=entry_point,
            kind=kind,
            description=description,
            inputs={} if inputs is None else inputs,
            outputs={} if outputs is None else outputs,
            config_schema={} if config_schema is None else config_schema,
            default_config={} if default_config is None else default_config,
            default_weights=default_weights,
            pretrained_on_create=pretrained_on_create,
            source=source,
        )

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


class PluginProblem(Record):
    """A plugin (or one of its particles) that cannot be used, and why."""

    _fields = __match_args__ = ("dist", "reason", "hint", "particle")
    dist: str
    reason: str
    hint: str
    particle: str | None

    def __init__(self, dist: str, reason: str, hint: str = "", particle: str | None = None) -> None:
        self.__dict__.update(dist=dist, reason=reason, hint=hint, particle=particle)

    @property
    def subject(self) -> str:
        return f"{self.dist}:{self.particle}" if self.particle else self.dist

    def to_dict(self) -> dict[str, Any]:
        return {"plugin": self.dist, "particle": self.particle, "reason": self.reason, "hint": self.hint}
