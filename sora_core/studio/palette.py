"""What the editor's palette shows: every installed particle grouped by kind, and the installed templates.

The particles come from the registry's listing, read from the plugins' manifests: no plugin code is imported
to fill the palette (templates are contributed by plugin hooks, so listing them loads the plugins).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sora_core.ports import PortSpec

if TYPE_CHECKING:
    from sora_core.metadata import ParticleInfo
    from sora_core.pipeline.spec import PipelineSpec
    from sora_core.registry import Registry


def port_json(spec: PortSpec) -> dict[str, Any]:
    """A port as the editor reads it: dtype, each dimension, space, whether it may stay open, and one line."""
    dims = spec.shape.split() if spec.shape else []
    return {
        "dtype": spec.dtype,
        "shape": dims,
        "space": spec.space,
        "optional": bool(spec.optional),
        "description": spec.description or "",
        "text": str(spec),
    }


def particle_json(info: ParticleInfo) -> dict[str, Any]:
    return {
        "name": info.full_name,
        "short": info.name,
        "kind": info.kind,
        "description": info.description,
        "dist": info.dist,
        "version": info.dist_version,
        "default_weights": info.default_weights,
        "inputs": {name: port_json(port) for name, port in info.inputs.items()},
        "outputs": {name: port_json(port) for name, port in info.outputs.items()},
        "config_schema": info.config_schema,
        "default_config": info.default_config,
    }


def palette(registry: Registry) -> dict[str, Any]:
    """``{"kinds": [{"kind", "description", "particles": [...]}, ...]}``, kinds and particles by name."""
    kinds = registry.kinds(load_hooks=False)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for info in registry.list():
        grouped.setdefault(info.kind, []).append(particle_json(info))
    return {
        "kinds": [
            {"kind": kind, "description": kinds[kind].description if kind in kinds else "", "particles": found}
            for kind, found in sorted(grouped.items())
        ]
    }


def templates(registry: Registry) -> dict[str, Any]:
    """The installed templates with their description, inputs and outputs (sorted by name)."""
    from sora_core.errors import SoraError
    from sora_core.pipeline.pipeline import available_templates, template_spec

    listed = []
    for name in sorted(available_templates(registry)):
        try:
            spec, _ = template_spec(name, registry)
        except SoraError as exc:  # a broken template is listed with its problem, not hidden
            listed.append({"name": name, "description": "", "inputs": [], "outputs": [], "error": exc.message})
            continue
        listed.append(_summary(name, spec))
    return {"templates": listed}


def _summary(name: str, spec: PipelineSpec) -> dict[str, Any]:
    return {"name": name, "description": spec.description, "inputs": list(spec.inputs), "outputs": list(spec.outputs)}
