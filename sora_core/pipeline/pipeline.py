"""The :class:`Pipeline`: particles built from a spec, checked as a graph, run, swapped, described."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sora_core.errors import IncompatibleSwapError, PipelineError, SoraError, SpecError, TemplateNotFoundError
from sora_core.pipeline.spec import NodeSpec, PipelineSpec, load_spec, parse_endpoint, spec_from_data
from sora_core.pipeline.validate import graph_problems, topological_order

if TYPE_CHECKING:
    import torch

    from sora_core.particle import Particle
    from sora_core.registry import Registry


class Pipeline:
    """A checked graph of particles. Build with :meth:`from_spec`, :meth:`from_template` or a builder.

    Calling it runs the graph: ``pipe(text=..., video=...)`` returns the outputs by name.
    """

    def __init__(
        self, spec: PipelineSpec, nodes: dict[str, Particle], registry: Registry, base_dir: Path | None = None
    ) -> None:
        self.spec = spec
        self.nodes = nodes
        self.registry = registry
        self.base_dir = base_dir
        self.order, _ = topological_order(list(spec.nodes), spec.edges)
        self._observers: list[Any] = []
        self._plan: Any = None
        self.bind_components()

    # --- building -------------------------------------------------------------------------

    @classmethod
    def from_spec(
        cls,
        spec: PipelineSpec | Mapping[str, Any] | str | os.PathLike[str],
        *,
        registry: Registry | None = None,
        materialize: bool = True,
        seed: int | None = None,
        base_dir: Path | None = None,
    ) -> Pipeline:
        """Build and check a pipeline from a spec object, plain data, or a YAML/JSON file.

        Every problem (unknown particles, bad configs, mismatched edges, unconnected
        inputs, cycles) is reported at once in a :class:`~sora_core.errors.PipelineError`.
        ``materialize=False`` builds the particles on torch's meta device without weights:
        enough to check and draw the graph, not to run it. ``seed`` makes the initial
        weights of freshly created nodes reproducible (each node gets its own seed).
        """
        from sora_core import registry as default
        from sora_core.limits import check_seed

        check_seed(seed)
        registry = registry or default.default_registry
        if isinstance(spec, (str, os.PathLike)):
            base_dir = Path(spec).resolve().parent
            spec = load_spec(spec)
        elif not isinstance(spec, PipelineSpec):
            spec = spec_from_data(dict(spec), "pipeline spec")
        nodes: dict[str, Particle] = {}
        problems: list[str] = []
        for name, node in spec.nodes.items():
            try:
                if seed is not None:
                    _seed_node(seed, name)
                nodes[name] = build_node(node, registry, base_dir, materialize)
            except SoraError as exc:
                problems.append(f"node {name!r}: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
        problems += graph_problems(spec, nodes, registry)
        if problems:
            raise PipelineError(spec.name, problems)
        return cls(spec, nodes, registry, base_dir)

    @classmethod
    def from_template(
        cls, name: str, *, registry: Registry | None = None, materialize: bool = True, seed: int | None = None
    ) -> Pipeline:
        """Build a pipeline from a template that an installed plugin contributes."""
        from sora_core import registry as default

        registry = registry or default.default_registry
        spec, base_dir = template_spec(name, registry)
        return cls.from_spec(spec, registry=registry, materialize=materialize, seed=seed, base_dir=base_dir)

    # --- information -----------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.spec.name

    def placement(self, node: str) -> tuple[torch.device | None, torch.dtype | None]:
        """The device and dtype a node runs on (``None``: as built)."""
        import torch

        from sora_core.weights import resolve_dtype

        node_spec = self.spec.nodes[node]
        device = torch.device(node_spec.device) if node_spec.device else None
        dtype = resolve_dtype(node_spec.dtype) if node_spec.dtype else None
        return device, dtype

    def describe(self, trace: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
        """The graph as plain data (what `sora graph` draws); ``trace`` adds per-node timings."""
        trace = trace or {}
        nodes = []
        for name in self.order:
            particle = self.nodes[name]
            nodes.append(
                {
                    "name": name,
                    "particle": particle.registered_name or type(particle).__qualname__,
                    "kind": particle.kind,
                    "inputs": {k: v.to_dict() for k, v in particle.input_ports().items()},
                    "outputs": {k: v.to_dict() for k, v in particle.output_ports().items()},
                    "trace": dict(trace[name]) if name in trace else None,
                    "components": dict(self.spec.nodes[name].components),
                }
            )
        edges = [
            {
                "source": e.source,
                "source_port": e.source_port,
                "target": e.target,
                "target_port": e.target_port,
                "spec": self.nodes[e.source].output_ports()[e.source_port].to_dict(),
            }
            for e in self.spec.edges
        ]
        inputs = {}
        for name, targets in self.spec.inputs.items():
            node, port = parse_endpoint(targets[0])
            inputs[name] = {"targets": list(targets), "spec": self.nodes[node].input_ports()[port].to_dict()}
        outputs = {}
        for name, source in self.spec.outputs.items():
            node, port = parse_endpoint(source)
            outputs[name] = {"source": source, "spec": self.nodes[node].output_ports()[port].to_dict()}
        return {
            "name": self.name,
            "description": self.spec.description,
            "inputs": inputs,
            "outputs": outputs,
            "nodes": nodes,
            "edges": edges,
        }

    # --- changing ------------------------------------------------------------------------------

    def swap(
        self, node: str, particle: str, *, weights: str | None = None, seed: int | None = None, **config: Any
    ) -> None:
        """Replace ``node`` by ``particle`` (with ``config``); refused with every reason if it does not fit.

        ``seed`` makes a freshly created particle's initial weights reproducible. A relative
        ``weights`` path is the caller's, so it is read against the working directory (a spec
        file's own relative paths are read against the spec's folder).
        """
        if weights is not None and weights != "default":
            weights = str(Path(weights).expanduser().resolve())
        if node not in self.nodes:
            raise IncompatibleSwapError(self.name, [f"unknown node {node!r} (nodes: {', '.join(self.nodes)})"])
        new_spec = NodeSpec(particle=particle, config=config, weights=weights)
        if seed is not None:
            _seed_node(seed, node)
        try:
            candidate = build_node(new_spec, self.registry, self.base_dir, materialize=True)
        except SoraError as exc:
            raise IncompatibleSwapError(self.name, [f"node {node!r}: {exc.message}"], exc.hint) from None
        old = self.nodes[node]
        problems = []
        if candidate.kind != old.kind:
            problems.append(
                f"node {node!r} is a {old.kind}, but {candidate.registered_name} is a {candidate.kind}: "
                "a swap keeps the node's kind"
            )
        kept = self.spec.nodes[node]
        placement = {"device": kept.device, "dtype": kept.dtype, "components": dict(kept.components)}
        new_spec = new_spec.model_copy(update=placement)
        spec = self.spec.model_copy(update={"nodes": {**self.spec.nodes, node: new_spec}})
        problems += graph_problems(spec, {**self.nodes, node: candidate}, self.registry)
        if problems:
            raise IncompatibleSwapError(
                self.name,
                [f"swapping {node!r} to {candidate.registered_name}: {p}" for p in problems],
                "pick a particle whose ports fit (see the suggestions), or change its config",
            )
        self.nodes[node] = _placed(candidate, spec.nodes[node])
        self.spec = spec
        self._plan = None
        self.bind_components()

    def configure(self, node: str, **config: Any) -> None:
        """Rebuild ``node``'s particle with its config updated by ``config`` (e.g. another cross-attention).

        The graph is checked again and the change refused with every reason if it no longer fits.
        A node loaded from sora weights keeps the config the weights were saved with: swap it instead (a node
        loaded from a foreign folder, such as a diffusers scheduler, takes run options on top of the folder's).
        """
        if node not in self.nodes:
            raise IncompatibleSwapError(self.name, [f"unknown node {node!r} (nodes: {', '.join(self.nodes)})"])
        current = self.spec.nodes[node]
        particle = self.nodes[node].registered_name or current.particle
        if current.weights is not None and config_with_weights(self.registry, current.particle):
            # a foreign folder (diffusers) carries the model; the particle's run options may still change
            weights = current.weights
            if weights != "default":
                weights = resolve_weights_path(weights, self.base_dir)
            self.swap(node, particle, weights=weights, **{**current.config, **config})
            return
        if current.weights is not None:
            raise IncompatibleSwapError(
                self.name,
                [f"node {node!r} is loaded from weights {current.weights!r}, so its config cannot change"],
                f"swap it for a fresh particle instead: swap({node!r}, {current.particle!r}, **config)",
            )
        self.swap(node, particle, **{**current.config, **config})

    def bind_components(self) -> None:
        """Bind every node's component slots to the nodes its spec names.

        Done on building, on every swap and before every run, so a node's own methods (e.g. a
        captioner's ``describe``) work outside :meth:`run` too, and a node replaced by hand in
        :attr:`nodes` is seen by the nodes that use it at the next run.
        """
        for name, node in self.spec.nodes.items():
            if node.components:
                targets = {slot: self.nodes[target] for slot, target in node.components.items()}
                self.nodes[name].bind_components(targets)

    # --- running -----------------------------------------------------------------------------

    def run(
        self,
        inputs: Mapping[str, Any],
        *,
        seed: int | None = None,
        concurrent: bool = True,
        progress: bool | None = None,
    ) -> dict[str, Any]:
        """Run the graph on ``inputs`` (by pipeline input name) and return its outputs by name.

        Independent branches run concurrently (threads); every node runs under
        ``torch.inference_mode``. With ``seed``, runs reproduce exactly.
        """
        from sora_core.limits import check_seed
        from sora_core.pipeline.execute import execute

        return execute(self, inputs, seed=check_seed(seed), concurrent=concurrent, progress=progress)

    def plan(self) -> Any:
        """The :class:`~sora_core.pipeline.execute.ExecutionPlan`, computed once per graph."""
        if self._plan is None:
            from sora_core.pipeline.execute import ExecutionPlan

            self._plan = ExecutionPlan.of(self)
        return self._plan

    def __call__(self, **inputs: Any) -> dict[str, Any]:
        return self.run(inputs)

    def observe(self, observer: Any) -> None:
        """Register an object implementing ``sora_before_node`` / ``sora_after_node`` for this pipeline's runs."""
        self._observers.append(observer)

    def hooks(self) -> Any:
        """The hook relay: plugins' hooks plus this pipeline's observers; ``None`` when nobody listens."""
        manager = self.registry.plugin_manager()
        listening = self._observers or any(
            getattr(manager.hook, name).get_hookimpls() for name in ("sora_before_node", "sora_after_node")
        )
        return _Relay(manager, self._observers) if listening else None

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, nodes={list(self.nodes)})"


class _Relay:
    """Calls a hook on every plugin and on the pipeline's own observers."""

    def __init__(self, manager: Any, observers: list[Any]) -> None:
        self.manager, self.observers = manager, observers

    def sora_before_node(self, **kwargs: Any) -> None:
        self.manager.hook.sora_before_node(**kwargs)
        for observer in self.observers:
            if hasattr(observer, "sora_before_node"):
                observer.sora_before_node(**kwargs)

    def sora_after_node(self, **kwargs: Any) -> None:
        self.manager.hook.sora_after_node(**kwargs)
        for observer in self.observers:
            if hasattr(observer, "sora_after_node"):
                observer.sora_after_node(**kwargs)


def _seed_node(seed: int, node: str) -> None:
    import torch

    from sora_core.pipeline.execute import node_seed

    torch.manual_seed(node_seed(seed, node))


def build_node(node: NodeSpec, registry: Registry, base_dir: Path | None, materialize: bool) -> Particle:
    """Create (or load) one node's particle as its spec says."""
    info = registry.info(node.particle)
    if node.weights is not None and node.config and registry.get_class(info.full_name).weights_format == "sora":
        raise SpecError(
            f"particle {info.full_name} is loaded from weights, so config overrides {sorted(node.config)} cannot apply",
            "drop the config, or drop weights to build it fresh",
        )
    if not materialize:
        return _on_meta(info.full_name, node, registry, base_dir)
    if node.device is not None:
        from sora_core.limits import check_device

        check_device(node.device, "device")
    if node.weights is None:
        from sora_core.limits import create_particle

        particle = create_particle(registry, info.full_name, node.config)
    else:
        weights = None if node.weights == "default" else resolve_weights_path(node.weights, base_dir)
        # placed while loading: a loader may cast tensor by tensor (and keep what its library keeps in float32)
        return registry.load(
            info.full_name, weights=weights, config=node.config or None, device=node.device, dtype=node.dtype
        )
    return _placed(particle, node)


def _on_meta(name: str, node: NodeSpec, registry: Registry, base_dir: Path | None) -> Particle:
    from sora_core.limits import create_on_meta

    config = dict(node.config)
    if node.weights is not None:
        weights = registry.info(name).default_weights if node.weights == "default" else node.weights
        if weights is not None:
            pretrained = registry.get_class(name).pretrained_config(resolve_weights_path(weights, base_dir))
            config = {**pretrained, **config}  # overrides are only present where the class accepts them
    return create_on_meta(registry, name, config)


def resolve_weights_path(path: str, base_dir: Path | None) -> str:
    """A node's ``weights`` path as it is loaded: relative paths are relative to the spec file's directory."""
    candidate = Path(path).expanduser()
    if not candidate.is_absolute() and base_dir is not None:
        candidate = base_dir / candidate
    return str(candidate)


def _placed(particle: Particle, node: NodeSpec) -> Particle:
    if (node.device or node.dtype) and hasattr(particle, "to"):
        from sora_core.weights import resolve_dtype

        particle = particle.to(device=node.device, dtype=resolve_dtype(node.dtype) if node.dtype else None)
    return particle


def template_spec(name: str, registry: Registry) -> tuple[PipelineSpec, Path | None]:
    """The spec of installed template ``name`` and the directory its relative weight paths start from."""
    templates = available_templates(registry)
    if name not in templates:
        close = difflib.get_close_matches(name, list(templates), n=3)
        raise TemplateNotFoundError(
            f"no installed plugin provides the pipeline template {name!r}",
            ("did you mean " + ", ".join(map(repr, close)) + "?")
            if close
            else "templates installed: " + (", ".join(sorted(templates)) or "none"),
        )
    template = templates[name]
    if isinstance(template, (str, os.PathLike)):
        return load_spec(template), Path(template).resolve().parent
    return spec_from_data(template, f"template {name!r}"), None


def portable_spec(spec: PipelineSpec, base_dir: Path | None) -> PipelineSpec:
    """``spec`` with relative weight folders made absolute, so a copy saved anywhere loads the same weights."""
    nodes = {}
    for name, node in spec.nodes.items():
        if node.weights is not None and node.weights != "default" and not Path(node.weights).is_absolute():
            folder = Path(resolve_weights_path(node.weights, base_dir)).resolve()
            node = node.model_copy(update={"weights": str(folder)})
        nodes[name] = node
    return spec.model_copy(update={"nodes": nodes})


def load_target(target: str, registry: Registry) -> tuple[PipelineSpec, Path | None]:
    """A spec file (YAML/JSON) or an installed template's name, as a spec and its base directory."""
    if os.path.exists(target) or target.endswith((".yaml", ".yml", ".json")):
        return load_spec(target), Path(target).resolve().parent
    return template_spec(target, registry)


#: Kinds whose nodes keep float32 when a run asks for another dtype (VAEs lose detail at half width).
FLOAT32_KINDS = frozenset({"video_encoder", "video_decoder"})


def placed_spec(spec: PipelineSpec, registry: Registry, device: str | None, dtype: str | None) -> PipelineSpec:
    """``spec`` with every node put on ``device`` (a node without weights too: its tensor inputs then arrive there,
    so tensors made on the CPU, such as a prompt node's layer indices, meet the GPU's outputs on one device) and
    every node that has weights, except VAEs, cast to ``dtype``."""
    if device is None and dtype is None:
        return spec
    nodes = {}
    for name, node in spec.nodes.items():
        changes: dict[str, Any] = {}
        if device is not None:
            changes["device"] = device
        if node.weights is not None and dtype is not None and registry.info(node.particle).kind not in FLOAT32_KINDS:
            changes["dtype"] = dtype
        nodes[name] = node.model_copy(update=changes) if changes else node
    return spec.model_copy(update={"nodes": nodes})


#: A swap: a particle name, or ``{"particle": NAME, "weights": DIR}`` (either key may be left out, not both).
Swap = str | Mapping[str, str | None]


def with_changes(
    spec: PipelineSpec,
    registry: Registry,
    *,
    swaps: Mapping[str, Swap] | None = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> PipelineSpec:
    """``spec`` with nodes swapped to other particles and config fields set, checked together once built.

    Unlike :meth:`Pipeline.swap` and :meth:`Pipeline.configure`, which each keep the graph valid,
    changes that only fit together (another text encoder and the dimensions the denoiser reads) can
    be made at once. A swap must keep the node's kind; a swapped node keeps its device, dtype and
    components. A swap to a particle name (``swaps={"attention": "additive-attention"}``) starts from
    that particle's default config (then ``settings``) and drops the node's ``weights``. A swap to
    ``{"particle": NAME, "weights": DIR}`` loads the particle from the folder ``DIR`` (or ``"default"``:
    the weights its plugin ships), and ``{"weights": DIR}`` alone loads the particle that the folder's
    ``config.json`` names (:func:`particle_for_weights`). A relative ``DIR`` is read against the working
    directory, as :meth:`Pipeline.swap` reads it.
    """
    nodes = dict(spec.nodes)
    problems = []
    hints: list[str] = []
    for node, swap in (swaps or {}).items():
        if node not in nodes:
            problems.append(f"cannot swap unknown node {node!r} (nodes: {', '.join(nodes)})")
            continue
        try:
            particle, weights = _swap_target(swap, registry)
            old_kind, new = registry.info(nodes[node].particle).kind, registry.info(particle)
        except SoraError as exc:
            problems.append(f"node {node!r}: {exc.message}")
            hints += [exc.hint] if exc.hint else []
            continue
        if new.kind != old_kind:
            problems.append(
                f"node {node!r} is a {old_kind}, but {new.full_name} is a {new.kind}: a swap keeps the node's kind"
            )
        nodes[node] = nodes[node].model_copy(update={"particle": particle, "config": {}, "weights": weights})
    for node, fields in (settings or {}).items():
        if node not in nodes:
            problems.append(f"cannot configure unknown node {node!r} (nodes: {', '.join(nodes)})")
        elif nodes[node].weights is not None and not config_with_weights(registry, nodes[node].particle):
            problems.append(
                f"node {node!r} is loaded from weights {nodes[node].weights!r}, so its config cannot change"
            )
        else:
            nodes[node] = nodes[node].model_copy(update={"config": {**nodes[node].config, **fields}})
    if problems:
        hint = "; ".join(dict.fromkeys(hints)) or "swap to a particle of the same kind, on an existing node"
        raise IncompatibleSwapError(spec.name, problems, hint)
    return spec.model_copy(update={"nodes": nodes})


def _swap_target(swap: Swap, registry: Registry) -> tuple[str, str | None]:
    """The particle and weights (an absolute folder, ``"default"`` or ``None``) a swap asks for."""
    if isinstance(swap, str):
        return swap, None
    particle, weights = swap.get("particle"), swap.get("weights")
    unknown = sorted(set(swap) - {"particle", "weights"})
    if unknown or (particle is None and weights is None):
        raise SpecError(
            f"swap {dict(swap)!r} is not a particle name or {{'particle': NAME, 'weights': DIR}}",
            "give a particle name, a weights folder, or both",
        )
    if weights is not None and weights != "default":
        weights = str(Path(weights).expanduser().resolve())
    if particle is None:
        if weights is None or weights == "default":
            raise SpecError("swap {'weights': 'default'} names no particle", "name the particle too")
        particle = particle_for_weights(weights, registry)
    return particle, weights


def particle_for_weights(folder: str | os.PathLike[str], registry: Registry) -> str:
    """The installed particle (``dist:name``) that saved weights ``folder``, read from its ``config.json``.

    The file's ``name`` is resolved through the registry, or else its ``particle`` (``module:Class``) must
    be exactly one installed entry point, as :meth:`Registry.class_for_config` does; nothing the file
    names is imported.
    """
    from sora_core.errors import WeightsError
    from sora_core.safetensors_io import CONFIG_NAME, check_directory_files, read_config

    path = Path(folder).expanduser()
    hint = "give a folder written by save_pretrained, or name the particle: NODE=PARTICLE@DIR"
    if not path.is_dir():
        raise WeightsError(f"weights folder {path} does not exist (or is not a folder)", hint)
    check_directory_files(path)
    payload = read_config(path)  # refuses a missing, oversized or malformed config.json, naming it
    found_hint = "install the plugin that provides it (`sora list` shows what is installed), or name the particle: "
    return registry.info_for_config(payload, path / CONFIG_NAME, found_hint + "NODE=PARTICLE@DIR").full_name


def config_with_weights(registry: Registry, particle: str) -> bool:
    """Whether ``particle`` takes config overrides on top of weights (a foreign layout such as a diffusers folder)."""
    try:
        return registry.get_class(particle).weights_format != "sora"
    except SoraError:
        return False  # an unknown or broken particle is reported where it is built


def available_templates(registry: Registry) -> dict[str, Any]:
    """Every template installed plugins contribute, by name."""
    found: dict[str, Any] = {}
    for templates in registry.plugin_manager().hook.sora_register_templates():
        for name, template in (templates or {}).items():
            found.setdefault(name, template)
    return found
