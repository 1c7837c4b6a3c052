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

    @field_validator("device")
    @classmethod
    def _device(cls, device: str | None) -> str | None:
        """Torch must read it (whether this machine has it is checked when the node is built)."""
        from sora_core.errors import ConfigError
        from sora_core.limits import parse_device

        if device is not None:
            try:
                parse_device(device, "device")
            except ConfigError as exc:
                raise ValueError(f"{device!r} is not a device sora-core runs on ({exc.hint})") from None
        return device

    @field_validator("dtype")
    @classmethod
    def _dtype(cls, dtype: str | None) -> str | None:
        from sora_core.errors import ConfigError
        from sora_core.weights import resolve_dtype

        if dtype is not None:
            try:
                resolve_dtype(dtype)
            except ConfigError:
                raise ValueError(f"{dtype!r} is not a floating dtype (use float32, float16 or bfloat16)") from None
        return dtype


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
    check_spec_size(data, source)
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


#: The largest spec file read (templates are a few kB).
MAX_SPEC_BYTES = 1 * 2**20
#: How deeply a spec's mappings and lists may nest (a real spec needs about 5 levels).
MAX_SPEC_DEPTH = 64
#: How many values a spec may hold once YAML aliases are expanded (a "billion laughs" document holds billions).
MAX_SPEC_VALUES = 100_000


def load_spec(path: str | Path) -> PipelineSpec:
    """Read a YAML (``.yaml``/``.yml``) or JSON spec file; raise ``SpecError`` naming it for anything wrong.

    A file over 1 MiB, not UTF-8, nested over 64 levels or holding over 100,000 values (YAML aliases
    expanded) is refused before it is validated.
    """
    path = Path(path)
    return spec_from_text(_read_spec_text(path), str(path), json_text=path.suffix.lower() == ".json")


def spec_from_text(text: str, source: str, *, json_text: bool = False) -> PipelineSpec:
    """Parse YAML (or, with ``json_text``, JSON) spec text; raise ``SpecError`` naming ``source`` for anything
    wrong, with the same limits as :func:`load_spec`."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SPEC_BYTES:
        raise SpecError(
            f"pipeline spec {source} is larger than {MAX_SPEC_BYTES // 2**20} MiB", "a spec is a few kB of YAML or JSON"
        )
    try:
        if json_text:
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except RecursionError:
        raise SpecError(
            f"{source} is nested too deeply to read", f"a spec nests at most {MAX_SPEC_DEPTH} levels"
        ) from None
    except (ValueError, Exception) as exc:  # yaml.YAMLError and json.JSONDecodeError
        raise SpecError(f"{source} is not valid YAML/JSON: {exc}", "fix the syntax") from None
    return spec_from_data(data, source)


def _read_spec_text(path: Path) -> str:
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_SPEC_BYTES + 1)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise SpecError(f"cannot read pipeline spec {path}: {reason}", "check the path") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(
            f"pipeline spec {path} is larger than {MAX_SPEC_BYTES // 2**20} MiB", "a spec is a few kB of YAML or JSON"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            f"pipeline spec {path} is not UTF-8 text (byte {exc.start} is {raw[exc.start : exc.start + 1]!r})",
            "save the spec as UTF-8 YAML or JSON",
        ) from None


def check_spec_size(data: Any, source: str) -> None:
    """Refuse data nested over ``MAX_SPEC_DEPTH`` levels or holding over ``MAX_SPEC_VALUES`` values.

    YAML aliases make one object appear many times; sizes are counted once per object (memoised by identity),
    so a document that would expand to billions of values is measured in time linear in its own length.
    """
    sizes: dict[int, int] = {}
    stack: list[tuple[Any, int, bool]] = [(data, 1, False)]
    while stack:
        value, depth, children_done = stack.pop()
        if id(value) in sizes or not isinstance(value, (dict, list)):
            continue
        if depth > MAX_SPEC_DEPTH:
            raise SpecError(f"{source}: the spec nests deeper than {MAX_SPEC_DEPTH} levels", "flatten it")
        children = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        if not children_done:
            stack.append((value, depth, True))
            stack.extend((child, depth + 1, False) for child in children if isinstance(child, (dict, list)))
            continue
        sizes[id(value)] = 1 + sum(sizes.get(id(child), 1) for child in children)
        if sizes[id(value)] > MAX_SPEC_VALUES:
            raise SpecError(
                f"{source}: the spec holds more than {MAX_SPEC_VALUES} values (YAML aliases expanded)",
                "write the spec out plainly; anchors and aliases that multiply it are refused",
            )
