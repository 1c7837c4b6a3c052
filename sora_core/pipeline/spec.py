"""Pipeline specs: nodes, edges, inputs and outputs, as YAML/JSON validated by pydantic.

```yaml
name: seed
inputs:
  text: text_encoder.token_embeddings        # one target, or a list to fan out
outputs:
  video: generator.video
nodes:
  text_encoder: {particle: sora-seed:lstm-text-encoder}
  generator: {particle: lstm-video-generator, config: {hidden_size: 128}, weights: default}
  # sampler: {particle: latent-sampler, components: {denoiser: denoiser, scheduler: scheduler}}
edges:
  - text_encoder.embeddings -> generator.condition
```
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sora_core.errors import SpecError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_ENDPOINT = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)\.([A-Za-z_][A-Za-z0-9_]*)$")


def parse_endpoint(text: str) -> tuple[str, str]:
    """``"node.port"`` -> ``("node", "port")``; raise ``ValueError`` explaining the format."""
    match = _ENDPOINT.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not 'node.port'")
    return match.group(1), match.group(2)


class NodeSpec(BaseModel):
    """One node: a particle by name, its config overrides, weights, device and dtype."""

    model_config = ConfigDict(extra="forbid")

    particle: str = Field(description="particle name: dist:name, or a short name while unique")
    config: dict[str, Any] = Field(default_factory=dict, description="config overrides")
    weights: str | None = Field(
        None, description="'default' for the plugin's weights, a save_pretrained directory, or none (fresh)"
    )
    device: str | None = Field(None, description="torch device for this node, e.g. cpu or cuda")
    dtype: str | None = Field(None, description="floating dtype for this node, e.g. float16")
    components: dict[str, str] = Field(
        default_factory=dict, description="component slot -> the node whose particle this node calls (e.g. a denoiser)"
    )


class EdgeSpec(BaseModel):
    """``source.port -> target.port``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    source_port: str
    target: str
    target_port: str

    @classmethod
    def parse(cls, text: str) -> EdgeSpec:
        left, arrow, right = text.partition("->")
        if not arrow:
            raise ValueError(f"edge {text!r} must look like 'node.port -> node.port'")
        source, source_port = parse_endpoint(left)
        target, target_port = parse_endpoint(right)
        return cls(source=source, source_port=source_port, target=target, target_port=target_port)

    def __str__(self) -> str:
        return f"{self.source}.{self.source_port} -> {self.target}.{self.target_port}"


class PipelineSpec(BaseModel):
    """A whole pipeline: what to run and how values flow."""

    model_config = ConfigDict(extra="forbid")

    name: str = "pipeline"
    description: str = ""
    nodes: dict[str, NodeSpec]
    edges: list[EdgeSpec] = Field(default_factory=list)
    inputs: dict[str, list[str]] = Field(default_factory=dict, description="input name -> node.port targets")
    outputs: dict[str, str] = Field(default_factory=dict, description="output name -> node.port source")

    @field_validator("nodes")
    @classmethod
    def _node_names(cls, nodes: dict[str, NodeSpec]) -> dict[str, NodeSpec]:
        bad = [name for name in nodes if not _NAME.match(name)]
        if bad:
            raise ValueError(f"node names {bad} must be identifiers (letters, digits, _ and -)")
        if not nodes:
            raise ValueError("a pipeline needs at least one node")
        return nodes

    @field_validator("edges", mode="before")
    @classmethod
    def _edges(cls, edges: Any) -> Any:
        if not isinstance(edges, list):
            raise ValueError("edges must be a list of 'node.port -> node.port' strings")
        return [EdgeSpec.parse(e) if isinstance(e, str) else e for e in edges]

    @field_validator("inputs", mode="before")
    @classmethod
    def _inputs(cls, inputs: Any) -> Any:
        if not isinstance(inputs, dict):
            raise ValueError("inputs must map an input name to 'node.port' or a list of them")
        return {name: [t] if isinstance(t, str) else t for name, t in inputs.items()}

    @field_validator("inputs")
    @classmethod
    def _input_targets(cls, inputs: dict[str, list[str]]) -> dict[str, list[str]]:
        for targets in inputs.values():
            for target in targets:
                parse_endpoint(target)
        return inputs

    @field_validator("outputs")
    @classmethod
    def _output_sources(cls, outputs: dict[str, str]) -> dict[str, str]:
        for source in outputs.values():
            parse_endpoint(source)
        return outputs

    def to_data(self) -> dict[str, Any]:
        """The spec as plain data in the file format (edges as strings)."""
        data = self.model_dump(mode="json", exclude_defaults=False)
        data["edges"] = [str(e) for e in self.edges]
        data["nodes"] = {
            name: {k: v for k, v in node.model_dump(mode="json").items() if v not in (None, {})}
            for name, node in self.nodes.items()
        }
        return data


def spec_from_data(data: Any, source: str) -> PipelineSpec:
    """Validate plain data as a spec; raise ``SpecError`` naming ``source`` and each bad field."""
    if not isinstance(data, dict):
        raise SpecError(f"{source}: a pipeline spec must be a mapping", "see docs/pipelines.md for the format")
    try:
        return PipelineSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(spec)'}: {error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        )
        raise SpecError(
            f"{source}: invalid pipeline spec: {problems}", "see docs/pipelines.md for the format"
        ) from None


def load_spec(path: str | Path) -> PipelineSpec:
    """Read a YAML (``.yaml``/``.yml``) or JSON spec file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read pipeline spec {path}: {exc.strerror or exc}", "check the path") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except (ValueError, Exception) as exc:  # yaml.YAMLError and json.JSONDecodeError
        raise SpecError(f"{path} is not valid YAML/JSON: {exc}", "fix the syntax") from None
    return spec_from_data(data, str(path))
