"""The search space of ``sora tune``: which nodes may be swapped (to installed particles that fit) and which
settings may change, with their ranges or choices.

Derived from a pipeline (:func:`derive_space`) or declared in a YAML file (:mod:`sora_core.tune.space_file`).
A space is plain data (:meth:`SearchSpace.to_data`), so worker processes get it without deriving it again and a
stored study remembers the space it was run with.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sora_core.errors import PipelineError

if TYPE_CHECKING:
    from sora_core.particle import Particle
    from sora_core.pipeline.spec import NodeSpec, PipelineSpec
    from sora_core.registry import Registry
    from sora_core.studio.graph import GraphChecker

#: The config fields a derived space tunes, and the range each takes from the field's current value: steps down to
#: a fifth (at least 2), guidance from off (1) to twice, shift from none (1) to twice, candidates down to one.
DERIVED_RANGES = {
    "steps": lambda value: (max(2, value // 5), value),
    "guidance_scale": lambda value: (1.0, 2.0 * value),
    "shift": lambda value: (1.0, 2.0 * max(value, 1.0)),
    "candidates": lambda value: (1, value),
}

#: The config fields a derived space offers as choices, and which of the values their schema allows it offers:
#: the compute precision (``auto`` left out: on any one machine it is one of the others).
DERIVED_CHOICES = {
    "compute_dtype": lambda allowed: [value for value in allowed if value != "auto"],
}

INT, FLOAT, CHOICES = "int", "float", "choices"


@dataclass(frozen=True)
class Swap:
    """Node ``node`` may run any of ``choices`` (full particle names; the current one first when it is offered).

    ``targets`` is what each choice puts in place, as :func:`~sora_core.pipeline.pipeline.with_changes` takes it: a
    particle name (built fresh) or ``{"particle": NAME, "weights": "default"}`` (the weights its plugin ships).
    """

    node: str
    choices: tuple[str, ...]
    targets: Mapping[str, Any]
    current: str

    @property
    def name(self) -> str:
        return self.node


@dataclass(frozen=True)
class Setting:
    """Config field ``node.field``: an ``int`` or ``float`` range (``low`` to ``high``, both included) or ``choices``.

    ``current`` is its value in the unchanged pipeline (``None`` where the current particle has no such field).
    """

    node: str
    field: str
    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    current: Any = None

    @property
    def name(self) -> str:
        return f"{self.node}.{self.field}"

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is one this setting can take (the baseline's value is enqueued only then)."""
        if self.kind == CHOICES:
            return any(type(value) is type(choice) and value == choice for choice in self.choices)
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not numeric or (self.kind == INT and not isinstance(value, int)):
            return False
        return self.low <= value <= self.high  # type: ignore[operator]

    def describe(self) -> str:
        if self.kind == CHOICES:
            return ", ".join(_text(choice) for choice in self.choices)
        return f"{_text(self.low)} to {_text(self.high)}"


@dataclass
class SearchSpace:
    """The parameters of a study over pipeline ``pipeline``.

    ``particles`` maps each node a parameter touches to its current particle; ``accepts[node][particle]`` lists
    the config fields that node takes when it runs that particle (none for a particle loaded from weights of the
    sora format). A setting applies in a trial only where the node's particle in that trial takes its field.
    """

    pipeline: str
    swaps: list[Swap] = field(default_factory=list)
    settings: list[Setting] = field(default_factory=list)
    particles: dict[str, str] = field(default_factory=dict)
    accepts: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.swaps) + len(self.settings)

    def add_swap(self, swap: Swap, accepts: dict[str, list[str]]) -> None:
        """Add ``swap``; ``accepts``: the config fields its node takes with each particle it may run."""
        self.swaps.append(swap)
        self.particles[swap.node] = swap.current
        self.accepts[swap.node] = accepts

    def add_setting(self, setting: Setting, current: str, accepts: dict[str, list[str]]) -> None:
        """Add ``setting`` of a node running ``current`` now (``accepts``: as for :meth:`add_swap`, kept when the
        node is swapped too)."""
        self.settings.append(setting)
        self.particles.setdefault(setting.node, current)
        self.accepts.setdefault(setting.node, accepts)

    # --- a trial's changes --------------------------------------------------------------------------------

    def suggest(
        self, trial: Any, *, only: Collection[str] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """The swaps and settings of ``trial`` (an ``optuna.Trial``), as ``with_changes`` takes them.

        A setting is asked for only where the trial's particle for its node takes the field, so the study's
        parameters are conditional (Optuna's samplers handle that). The baseline trial passes ``only``, the
        parameters it was enqueued with: it asks for those alone (recording the pipeline's own values) and
        changes nothing.
        """
        baseline = only is not None
        fixed = set(only or ())
        particles = dict(self.particles)
        swaps: dict[str, Any] = {}
        for swap in self.swaps:
            if baseline and swap.name not in fixed:
                continue
            choice = trial.suggest_categorical(swap.name, list(swap.choices))
            particles[swap.node] = choice
            if choice != swap.current:
                swaps[swap.node] = swap.targets[choice]
        settings: dict[str, dict[str, Any]] = {}
        for setting in self.settings:
            if (baseline and setting.name not in fixed) or not self.applies(setting, particles[setting.node]):
                continue
            if setting.kind == CHOICES:
                value = trial.suggest_categorical(setting.name, list(setting.choices))
            elif setting.kind == INT:
                value = trial.suggest_int(setting.name, int(setting.low), int(setting.high))  # type: ignore[arg-type]
            else:
                value = trial.suggest_float(setting.name, float(setting.low), float(setting.high))  # type: ignore[arg-type]
            settings.setdefault(setting.node, {})[setting.field] = value
        return ({}, {}) if baseline else (swaps, settings)

    def applies(self, setting: Setting, particle: str) -> bool:
        return setting.field in self.accepts.get(setting.node, {}).get(particle, ())

    def baseline_params(self) -> dict[str, Any]:
        """The parameters of the unchanged pipeline that the space can represent (a current value outside a
        declared range is left out: the baseline keeps it all the same)."""
        params: dict[str, Any] = {}
        for swap in self.swaps:
            if swap.current in swap.choices:
                params[swap.name] = swap.current
        for setting in self.settings:
            if setting.current is not None and setting.contains(setting.current):
                params[setting.name] = setting.current
        return params

    # --- showing ------------------------------------------------------------------------------------------

    def rows(self) -> list[list[str]]:
        """One row a parameter: name, kind, current value, range or choices (``sora tune --explain``)."""
        rows = [[swap.name, "swap", swap.current, ", ".join(swap.choices)] for swap in self.swaps]
        for setting in self.settings:
            current = "-" if setting.current is None else _text(setting.current)
            rows.append([setting.name, setting.kind, current, setting.describe()])
        return rows

    def notes(self) -> list[str]:
        """The settings that some of their node's swaps leave out (the particle has no such field)."""
        notes = []
        for setting in self.settings:
            skipped = [p for p in self.accepts.get(setting.node, {}) if not self.applies(setting, p)]
            if skipped:
                notes.append(f"{setting.name} is not set when {setting.node} runs {' or '.join(sorted(skipped))}")
        return notes

    # --- plain data ---------------------------------------------------------------------------------------

    def to_data(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "swaps": [
                {"node": s.node, "choices": list(s.choices), "targets": dict(s.targets), "current": s.current}
                for s in self.swaps
            ],
            "settings": [
                {
                    "node": s.node,
                    "field": s.field,
                    "kind": s.kind,
                    "low": s.low,
                    "high": s.high,
                    "choices": list(s.choices),
                    "current": s.current,
                }
                for s in self.settings
            ],
            "particles": dict(self.particles),
            "accepts": {node: dict(by_particle) for node, by_particle in self.accepts.items()},
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> SearchSpace:
        return cls(
            pipeline=data["pipeline"],
            swaps=[Swap(s["node"], tuple(s["choices"]), dict(s["targets"]), s["current"]) for s in data["swaps"]],
            settings=[
                Setting(s["node"], s["field"], s["kind"], s["low"], s["high"], tuple(s["choices"]), s["current"])
                for s in data["settings"]
            ],
            particles=dict(data["particles"]),
            accepts={node: {p: list(f) for p, f in by.items()} for node, by in data["accepts"].items()},
        )


# --- deriving a space from a pipeline --------------------------------------------------------------------------


def checked_graph(spec: PipelineSpec, registry: Registry, base_dir: Path | None) -> GraphChecker:
    """A graph checker for ``spec`` (nodes built on meta), after refusing a spec that does not build."""
    from sora_core.studio.graph import GraphChecker

    checker = GraphChecker(registry, base_dir)
    problems = checker.problems(spec)
    if problems:
        raise PipelineError(spec.name, problems)
    return checker


def swap_choices(checker: GraphChecker, spec: PipelineSpec, node: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The particles that fit ``node`` (the current one first) with what each puts in place, and the reason each
    other particle of its kind does not fit."""
    found = checker.fits(spec, node)
    targets: dict[str, Any] = {}
    for entry in found["fits"]:
        weights = entry["node"].get("weights")
        targets[entry["name"]] = entry["name"] if weights is None else {"particle": entry["name"], "weights": weights}
    return targets, {entry["name"]: entry["reason"] for entry in found["misfits"]}


def derive_space(spec: PipelineSpec, registry: Registry, base_dir: Path | None) -> SearchSpace:
    """Every node with another particle that fits, and the sampling settings (:data:`DERIVED_RANGES`) of every node
    whose config may change, each ranged from its current value and clamped to its schema's limits."""
    checker = checked_graph(spec, registry, base_dir)
    space = SearchSpace(spec.name)
    for node, node_spec in spec.nodes.items():
        current = registry.info(node_spec.particle).full_name
        targets, _ = swap_choices(checker, spec, node)
        if len(targets) > 1:
            space.add_swap(Swap(node, tuple(targets), targets, current), swap_accepts(registry, node_spec, targets))
        fields = accepted_fields(registry, current, node_spec.weights)
        if not fields:
            continue
        values = current_config(checker, node_spec)
        schema = registry.info(current).config_schema
        for name, make_range in DERIVED_RANGES.items():
            setting = _derived(node, name, values.get(name), field_schema(schema, name), make_range)
            if setting is not None:
                space.add_setting(setting, current, {current: fields})
        for name, offered in DERIVED_CHOICES.items():
            setting = _derived_choices(node, name, values.get(name), field_schema(schema, name), offered)
            if setting is not None:
                space.add_setting(setting, current, {current: fields})
    return space


def swap_accepts(registry: Registry, node: NodeSpec, targets: Mapping[str, Any]) -> dict[str, list[str]]:
    """The config fields ``node`` takes with its current particle and with each swap target."""
    weights = {registry.info(node.particle).full_name: node.weights}
    weights.update({particle: _weights(target) for particle, target in targets.items()})
    return {particle: accepted_fields(registry, particle, folder) for particle, folder in weights.items()}


def _weights(target: Any) -> str | None:
    return None if isinstance(target, str) else target.get("weights")


def _derived(node: str, name: str, value: Any, schema: dict[str, Any] | None, make_range: Any) -> Setting | None:
    """Setting ``node.name`` ranged from ``value``, or ``None`` when the field is not numeric here or the range
    left after clamping to the schema is a single value."""
    if schema is None or schema.get("type") not in ("integer", "number"):
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return None
    kind = INT if schema["type"] == "integer" else FLOAT
    low, high = make_range(value)
    low, high = clamp(kind, low, high, schema)
    if kind == INT:
        low, high = math.ceil(low), math.floor(high)
    else:
        low, high = float(low), float(high)
    if not low < high:
        return None
    return Setting(node, name, kind, low, high, current=value)


def _derived_choices(node: str, name: str, value: Any, schema: dict[str, Any] | None, offered: Any) -> Setting | None:
    """Setting ``node.name`` choosing among the values its schema's ``enum`` allows (as ``offered`` filters them),
    or ``None`` when the field has no such list or it leaves fewer than two."""
    if schema is None or not isinstance(schema.get("enum"), list):
        return None
    choices = tuple(offered(schema["enum"]))
    return Setting(node, name, CHOICES, choices=choices, current=value) if len(choices) > 1 else None


def clamp(kind: str, low: float, high: float, schema: Mapping[str, Any]) -> tuple[float, float]:
    """``low`` to ``high`` within the schema's ``minimum``/``maximum`` (and exclusive ones: the next integer for an
    int field, the next float above or below for a float field)."""
    if "minimum" in schema:
        low = max(low, schema["minimum"])
    if "maximum" in schema:
        high = min(high, schema["maximum"])
    if "exclusiveMinimum" in schema and low <= schema["exclusiveMinimum"]:
        bound = schema["exclusiveMinimum"]
        low = math.floor(bound) + 1 if kind == INT else math.nextafter(bound, math.inf)
    if "exclusiveMaximum" in schema and high >= schema["exclusiveMaximum"]:
        bound = schema["exclusiveMaximum"]
        high = math.ceil(bound) - 1 if kind == INT else math.nextafter(bound, -math.inf)
    return low, high


def field_schema(schema: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """The JSON Schema of config field ``name``, an optional field's non-null branch merged in (``None``: no such
    field)."""
    found = schema.get("properties", {}).get(name)
    if found is None:
        return None
    branches = [branch for branch in found.get("anyOf", ()) if branch.get("type") != "null"]
    return {**found, **branches[0]} if len(branches) == 1 else dict(found)


def accepted_fields(registry: Registry, particle: str, weights: str | None) -> list[str]:
    """The config fields a node of ``particle`` takes: all of them when it is built fresh or its class takes config
    with its weights (a foreign layout such as a diffusers folder), none when it loads sora weights."""
    from sora_core.pipeline.pipeline import config_with_weights

    if weights is not None and not config_with_weights(registry, particle):
        return []
    return list(registry.info(particle).config_schema.get("properties", {}))


def current_config(checker: GraphChecker, node: NodeSpec) -> dict[str, Any]:
    """The whole config ``node`` builds with (defaults, its weights' config, its overrides), built on meta."""
    particle: Particle = checker.particle(node)
    return particle.config.model_dump(mode="json")


def _text(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:g}"
        return text if any(mark in text for mark in ".ein") else text + ".0"  # a float reads as one: 6.0, not 6
    return str(value)
