"""A search space declared in a small YAML file (``sora tune ... --space FILE``).

```yaml
pipeline: t2v
swaps: {scheduler: [sora-dit:rectified-flow-euler, sora-dit:rectified-flow-heun]}
settings:
  scheduler.steps: {int: [4, 20]}
  sampler.guidance_scale: {float: [1.0, 8.0]}
  sampler.candidates: {choices: [1, 2, 4]}
```

The file is data only: read with ``yaml.safe_load`` under the spec files' size limits, validated by pydantic, and
its particle names resolved through the registry (nothing it names is imported by name). Every problem is
reported at once in one ``ConfigError`` naming the file and each field, with the fix.
"""

from __future__ import annotations

import difflib
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from sora_core.errors import ConfigError, SoraError
from sora_core.tune.space import (
    CHOICES,
    FLOAT,
    INT,
    SearchSpace,
    Setting,
    Swap,
    accepted_fields,
    checked_graph,
    clamp,
    current_config,
    field_schema,
    swap_accepts,
    swap_choices,
)

if TYPE_CHECKING:
    from sora_core.pipeline.spec import PipelineSpec
    from sora_core.registry import Registry
    from sora_core.studio.graph import GraphChecker

#: The largest space file read (one is a few lines).
MAX_SPACE_BYTES = 64 * 2**10

HINT = (
    "write swaps: {NODE: [PARTICLE, ...]} and settings: {NODE.FIELD: {int: [LOW, HIGH]} | {float: [LOW, HIGH]} | "
    "{choices: [VALUE, ...]}} (see docs/tuning.md#the-space-file)"
)


class Range(BaseModel):
    """One setting's values: ``{int: [LOW, HIGH]}``, ``{float: [LOW, HIGH]}`` or ``{choices: [...]}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    int_range: tuple[StrictInt, StrictInt] | None = Field(None, alias="int")
    float_range: tuple[StrictInt | StrictFloat, StrictInt | StrictFloat] | None = Field(None, alias="float")
    choices: list[StrictBool | StrictInt | StrictFloat | StrictStr] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_form(self) -> Range:
        given = [f for f in ("int_range", "float_range", "choices") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of int: [LOW, HIGH], float: [LOW, HIGH] or choices: [VALUE, ...]")
        bounds = self.int_range or self.float_range
        if bounds is not None:
            low, high = bounds
            if not all(math.isfinite(bound) for bound in bounds):
                raise ValueError("LOW and HIGH must be finite numbers")
            if not low < high:
                raise ValueError(f"LOW ({low}) must be below HIGH ({high}); for one value write choices: [{low}]")
        if self.choices is not None:
            keys = [(type(choice), choice) for choice in self.choices]
            if len(set(keys)) != len(keys):
                raise ValueError("choices are listed twice; list each value once")
            if any(isinstance(choice, float) and not math.isfinite(choice) for choice in self.choices):
                raise ValueError("choices must be finite numbers")
        return self

    @property
    def kind(self) -> str:
        return INT if self.int_range is not None else FLOAT if self.float_range is not None else CHOICES


class SpaceFile(BaseModel):
    """The file: the pipeline it is for (optional), swaps and settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pipeline: StrictStr | None = None
    swaps: dict[StrictStr, list[StrictStr]] = Field(default_factory=dict)
    settings: dict[StrictStr, Range] = Field(default_factory=dict)


def load_space_file(
    path: str | os.PathLike[str], *, target: str, spec: PipelineSpec, registry: Registry, base_dir: Path | None
) -> SearchSpace:
    """The space file at ``path`` for pipeline ``spec`` (named ``target`` on the command line), every problem
    refused at once in a ``ConfigError`` naming the file and the field."""
    path = Path(path)
    model = _validated(_read(path), path)
    problems: list[str] = []
    if model.pipeline is not None and not _same_target(model.pipeline, path.parent, target):
        problems.append(
            f"pipeline: the file is for {model.pipeline!r}, but {target!r} is being tuned "
            f"(write pipeline: {target}, or tune {model.pipeline})"
        )
    if not model.swaps and not model.settings:
        problems.append("the space is empty: give at least one swap or setting")
    checker = checked_graph(spec, registry, base_dir)
    space = SearchSpace(spec.name)
    for node, names in model.swaps.items():
        _add_swap(space, problems, checker, spec, registry, node, names)
    for key, values in model.settings.items():
        _add_setting(space, problems, checker, spec, registry, key, values)
    if problems:
        count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
        raise ConfigError(f"space file {path} is invalid ({count}):\n" + "\n".join(f"  - {p}" for p in problems), HINT)
    return space


def _read(path: Path) -> Any:
    import yaml

    from sora_core.pipeline.spec import check_spec_size

    hint = "pass a YAML file: swaps and settings (see docs/tuning.md#the-space-file)"
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SPACE_BYTES + 1)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigError(f"--space {path}: cannot read it: {reason}", hint) from None
    if len(raw) > MAX_SPACE_BYTES:
        raise ConfigError(f"space file {path} is over {MAX_SPACE_BYTES // 2**10} KiB", "a space file is a few lines")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"space file {path} is not UTF-8 text (byte {exc.start})", hint) from None
    except RecursionError:
        raise ConfigError(f"space file {path} is nested too deeply to read", hint) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"space file {path} is not valid YAML: {exc}", "fix the syntax") from None
    if not isinstance(data, dict):
        raise ConfigError(f"space file {path} must be a mapping (swaps:, settings:)", hint)
    check_spec_size(data, f"space file {path}")
    return data


#: Pydantic's tags for the members of a union, which it adds to the location of each member's error.
_UNION_TAGS = {"bool", "int", "float", "str"}


def _validated(data: Any, path: Path) -> SpaceFile:
    try:
        return SpaceFile.model_validate(data)
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for error in exc.errors():
            loc = [str(part) for part in error["loc"]]
            message = error["msg"].removeprefix("Value error, ")
            if loc and loc[-1] in _UNION_TAGS:  # one line for the value, not one per type it could have been
                loc, message = loc[:-1], "must be a number, text or true/false"
            if error["type"] == "extra_forbidden":
                message = "unknown field" + (
                    " (a space file has pipeline, swaps and settings)"
                    if len(loc) == 1
                    else " (a setting is {int: [LOW, HIGH]}, {float: [LOW, HIGH]} or {choices: [...]})"
                )
            problems.setdefault(".".join(loc) or "(file)", message)
        count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
        lines = "\n".join(f"  - {where}: {message}" for where, message in problems.items())
        raise ConfigError(f"space file {path} is invalid ({count}):\n{lines}", HINT) from None


def _same_target(declared: str, folder: Path, target: str) -> bool:
    """Whether the file's ``pipeline`` (a template name, or a spec path read against the file's folder) is
    ``target`` (a template name, or a spec path read against the working directory)."""
    if declared == target:
        return True
    declared_path, target_path = folder / declared, Path(target)
    return declared_path.exists() and target_path.exists() and declared_path.resolve() == target_path.resolve()


def _add_swap(
    space: SearchSpace,
    problems: list[str],
    checker: GraphChecker,
    spec: PipelineSpec,
    registry: Registry,
    node: str,
    names: list[str],
) -> None:
    where = f"swaps.{node}"
    if node not in spec.nodes:
        problems.append(f"{where}: pipeline {spec.name!r} has no node {node!r}{_close(node, spec.nodes)}")
        return
    current = registry.info(spec.nodes[node].particle)
    targets, misfits = swap_choices(checker, spec, node)
    chosen: dict[str, Any] = {}
    before = len(problems)
    for name in names:
        try:
            info = registry.info(name)
        except SoraError as exc:
            problems.append(f"{where}: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
            continue
        if info.full_name in chosen:
            problems.append(f"{where}: {info.full_name} is listed twice")
        elif info.full_name in targets:
            chosen[info.full_name] = targets[info.full_name]
        elif info.full_name in misfits:
            problems.append(f"{where}: {info.full_name} does not fit node {node!r}: {misfits[info.full_name]}")
        else:
            problems.append(
                f"{where}: {info.full_name} is a {info.kind}, but node {node!r} is a {current.kind} "
                "(a swap keeps the node's kind)"
            )
    if len(problems) == before and len(chosen) < 2:
        problems.append(
            f"{where}: one particle is no choice: list two or more (node {node!r} runs {current.full_name} now; "
            f"these fit: {', '.join(targets)})"
        )
    if len(problems) > before:
        return
    space.add_swap(
        Swap(node, tuple(chosen), chosen, current.full_name), swap_accepts(registry, spec.nodes[node], chosen)
    )


def _add_setting(
    space: SearchSpace,
    problems: list[str],
    checker: GraphChecker,
    spec: PipelineSpec,
    registry: Registry,
    key: str,
    values: Range,
) -> None:
    where = f"settings.{key}"
    node, _, name = key.partition(".")
    if not node or not name:
        problems.append(f"{where}: a setting is NODE.FIELD, e.g. scheduler.steps")
        return
    if node not in spec.nodes:
        problems.append(f"{where}: pipeline {spec.name!r} has no node {node!r}{_close(node, spec.nodes)}")
        return
    node_spec = spec.nodes[node]
    current = registry.info(node_spec.particle).full_name
    accepts = space.accepts.get(node) or {current: accepted_fields(registry, current, node_spec.weights)}
    takers = [particle for particle, fields in accepts.items() if name in fields]
    if not takers:
        known = sorted({f for p in accepts for f in registry.info(p).config_schema.get("properties", {})})
        if name in known:
            problems.append(
                f"{where}: node {node!r} loads {current} from weights {node_spec.weights!r}, so its config cannot "
                "change (swap it instead)"
            )
        else:
            problems.append(
                f"{where}: {' or '.join(accepts)} has no config field {name!r}{_close(name, known)} "
                f"(fields: {', '.join(known) or 'none'})"
            )
        return
    before = len(problems)
    for particle in takers:
        schema = field_schema(registry.info(particle).config_schema, name) or {}
        problem = _misfit(values, schema)
        if problem:
            problems.append(f"{where}: {problem} (config field {name!r} of {particle})")
            break
    if len(problems) > before:
        return
    value = current_config(checker, node_spec).get(name) if current in takers else None
    low, high = values.int_range or values.float_range or (None, None)
    setting = Setting(node, name, values.kind, low, high, tuple(values.choices or ()), value)
    space.add_setting(setting, current, accepts)


#: The Python types a JSON Schema type takes.
_TYPES: dict[str, tuple[type, ...]] = {"integer": (int,), "number": (int, float), "string": (str,), "boolean": (bool,)}


def _misfit(values: Range, schema: dict[str, Any]) -> str | None:
    """What in ``values`` the field's schema refuses: the kind of value, or a bound (``None``: nothing)."""
    kind = schema.get("type")
    if values.kind == FLOAT and kind == "integer":
        return "a float range for an integer field: write int: [LOW, HIGH]"
    if values.kind in (INT, FLOAT) and kind not in ("integer", "number"):
        return f"a numeric range for a field of type {kind or 'other than a number'}: write choices: [...]"
    candidates = list(values.int_range or values.float_range or values.choices or ())
    for value in candidates:
        if "enum" in schema and value not in schema["enum"]:
            return f"{value!r} is not one of {schema['enum']}"
        expected = _TYPES.get(kind or "")
        if expected and (not isinstance(value, expected) or (isinstance(value, bool) and kind != "boolean")):
            return f"{value!r} is not of type {kind}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            low, high = clamp(FLOAT, value, value, schema)
            if low != value or high != value:
                return f"{value!r} is outside the field's limits ({_limits(schema)})"
    return None


def _limits(schema: dict[str, Any]) -> str:
    names = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
    return ", ".join(f"{sign} {schema[key]}" for key, sign in names.items() if key in schema)


def _close(name: str, names: Any) -> str:
    close = difflib.get_close_matches(name, list(names), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
