"""Dataflow pipelines of particles: specs, build-time checks, execution, swapping, drawing."""

from __future__ import annotations

from sora_core.pipeline.builder import PipelineBuilder
from sora_core.pipeline.pipeline import Pipeline, available_templates, load_target, template_spec, with_changes
from sora_core.pipeline.spec import EdgeSpec, NodeSpec, PipelineSpec, load_spec

__all__ = [
    "EdgeSpec",
    "NodeSpec",
    "Pipeline",
    "PipelineBuilder",
    "PipelineSpec",
    "available_templates",
    "load_spec",
    "load_target",
    "template_spec",
    "with_changes",
]
