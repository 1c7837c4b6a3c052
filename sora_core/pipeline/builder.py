"""A small code-first API for building pipelines without writing a spec file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sora_core.pipeline.spec import PipelineSpec

if TYPE_CHECKING:
    from sora_core.pipeline.pipeline import Pipeline
    from sora_core.registry import Registry


class PipelineBuilder:
    """Collects nodes and wires, then builds a checked :class:`Pipeline`::

    pipe = (
        PipelineBuilder("captions")
        .node("encoder", "lstm-text-encoder", hidden_size=128)
        .node("generator", "lstm-video-generator", input_size=128)
        .connect("encoder.embeddings", "generator.condition")
        .input("text", "encoder.token_embeddings")
        .output("video", "generator.video")
        .build()
    )
    """

    def __init__(self, name: str = "pipeline", description: str = "") -> None:
        self._data: dict[str, Any] = {
            "name": name,
            "description": description,
            "nodes": {},
            "edges": [],
            "inputs": {},
            "outputs": {},
        }

    def node(
        self,
        name: str,
        particle: str,
        *,
        weights: str | None = None,
        device: str | None = None,
        dtype: str | None = None,
        components: dict[str, str] | None = None,
        **config: Any,
    ) -> PipelineBuilder:
        """Add node ``name`` running ``particle`` with ``config`` overrides.

        ``components`` binds the particle's component slots to other nodes (slot -> node name).
        """
        node: dict[str, Any] = {"particle": particle, "config": config}
        node.update({k: v for k, v in (("weights", weights), ("device", device), ("dtype", dtype)) if v is not None})
        if components:
            node["components"] = dict(components)
        self._data["nodes"][name] = node
        return self

    def connect(self, source: str, target: str) -> PipelineBuilder:
        """Wire output ``"node.port"`` into input ``"node.port"``."""
        self._data["edges"].append(f"{source} -> {target}")
        return self

    def input(self, name: str, *targets: str) -> PipelineBuilder:
        """Pipeline input ``name`` feeds every ``"node.port"`` in ``targets``."""
        self._data["inputs"].setdefault(name, []).extend(targets)
        return self

    def output(self, name: str, source: str) -> PipelineBuilder:
        """Pipeline output ``name`` is ``"node.port"``."""
        self._data["outputs"][name] = source
        return self

    def spec(self) -> PipelineSpec:
        from sora_core.pipeline.spec import spec_from_data

        return spec_from_data(self._data, f"builder {self._data['name']!r}")

    def build(self, *, registry: Registry | None = None, materialize: bool = True, seed: int | None = None) -> Pipeline:
        """Check the graph and build its particles (see :meth:`Pipeline.from_spec`)."""
        from sora_core.pipeline.pipeline import Pipeline

        return Pipeline.from_spec(self.spec(), registry=registry, materialize=materialize, seed=seed)
