"""The individual conformance checks; each returns a detail string or raises ``Failed``."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from sora_core.kinds import BUILTIN_KINDS, KindSpec
from sora_core.metadata import ParticleInfo
from sora_core.particle import Particle
from sora_core.ports import PortSpec
from sora_core.testing.examples import (
    Bindings,
    Failed,
    clone_values,
    describe,
    differences,
    make_inputs,
    output_problems,
    state_of,
)

# --- the checks -------------------------------------------------------------------------------------------------


class Subject:
    """The particle under check: its class, config, and lazily built instance and inputs."""

    def __init__(
        self, cls: type[Particle], config: dict[str, Any] | None, seed: int, batch: int, sizes: Mapping[str, int] | None
    ) -> None:
        self.cls, self.config, self.seed, self.batch, self.sizes = cls, config, seed, batch, sizes
        self.registered_name: str | None = None
        self._particle: Particle | None = None
        self._inputs: tuple[dict[str, Any], Bindings] | None = None
        self._components: dict[str, Particle] | None = None

    def build(self) -> Particle:
        torch.manual_seed(self.seed)
        try:
            particle = self.cls(self.config)
        except Exception as exc:
            raise Failed(f"constructing {self.cls.__qualname__}({self.config!r}) failed: {error_text(exc)}") from exc
        if self.registered_name:
            particle.registered_name = self.registered_name
        if isinstance(particle, torch.nn.Module):
            particle.eval()
        return particle

    @property
    def particle(self) -> Particle:
        if self._particle is None:
            self._particle = self.build()
        return self._particle

    @property
    def inputs(self) -> tuple[dict[str, Any], Bindings]:
        if self._inputs is None:
            try:
                self._inputs = make_inputs(self.particle, batch=self.batch, seed=self.seed, sizes=self.sizes)
            except ValueError as exc:
                raise Failed(f"cannot build example inputs: {exc}") from exc
        return clone_values(self._inputs[0]), self._inputs[1].copy()

    def run(self, particle: Particle, inputs: Mapping[str, Any], *, clone: bool = True) -> Any:
        """Call ``particle`` on ``inputs`` (copied unless ``clone=False``) under the seed, without grad."""
        torch.manual_seed(self.seed)
        if self.cls.component_kinds():
            particle.bind_components(self.components)
        with torch.no_grad():
            return particle(**(clone_values(inputs) if clone else inputs))

    @property
    def components(self) -> dict[str, Particle]:
        """The particles bound to the subject's component slots: ``cls.example_components(config)``, built once."""
        if self._components is None:
            make = getattr(self.cls, "example_components", None)
            if make is None:
                slots = ", ".join(f"{slot} ({kind})" for slot, kind in self.cls.component_kinds().items())
                raise Failed(
                    f"{self.cls.__qualname__} needs components {slots} but defines no example_components(config) "
                    "classmethod for the kit to bind"
                )
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                self._components = dict(make(self.particle.config))  # validated, like example_inputs gets
        return self._components


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _known_kinds() -> tuple[dict[str, KindSpec], str]:
    """Built-in kinds plus those installed plugins contribute (through the registry, when it can say)."""
    kinds = dict(BUILTIN_KINDS)
    try:
        from sora_core import registry

        default = getattr(registry, "default_registry", None)
        if default is not None and hasattr(default, "plugin_manager"):
            default.plugin_manager()  # hook-contributed kinds count only once the hooks are loaded
        if hasattr(registry, "kinds"):
            kinds.update(registry.kinds())
    except Exception as exc:  # a broken environment must not crash the kit
        return kinds, f" (contributed kinds could not be read: {error_text(exc)})"
    return kinds, ""


def check_kind(subject: Subject, extra_kinds: Mapping[str, KindSpec] | None) -> str:
    kind = subject.cls.kind
    if not kind:
        raise Failed(f"{subject.cls.__qualname__} sets no kind; subclass a kind base from sora_core.interfaces")
    kinds, note = _known_kinds()
    kinds.update(extra_kinds or {})
    spec = kinds.get(kind)
    if spec is None:
        raise Failed(
            f"kind {kind!r} is neither built in nor contributed by an installed plugin{note}; "
            f"known kinds: {', '.join(sorted(kinds))}"
        )
    particle = subject.particle
    problems = spec.problems(set(particle.input_ports()), set(particle.output_ports()))
    if problems:
        raise Failed("; ".join(problems))
    return f"{kind} ({spec.contributed_by})"


def check_ports(subject: Subject) -> str:
    particle = subject.particle
    problems = []
    for side, method in (("input_ports", particle.input_ports), ("output_ports", particle.output_ports)):
        ports = method()
        if not isinstance(ports, dict):
            problems.append(f"{side}() returned a {type(ports).__name__}, expected a dict of PortSpec")
            continue
        for name, spec in ports.items():
            if not isinstance(spec, PortSpec):
                problems.append(f"{side}()[{name!r}] is a {type(spec).__name__}, expected a PortSpec")
            if not (isinstance(name, str) and name.isidentifier()):
                problems.append(f"{side}() has port name {name!r}, which is not a Python identifier")
        if side == "output_ports" and not ports:
            problems.append("output_ports() is empty; a particle must declare at least one output")
    if problems:
        raise Failed("; ".join(problems))
    ins, outs = particle.input_ports(), particle.output_ports()
    return "inputs " + _port_list(ins) + "; outputs " + _port_list(outs)


def _port_list(ports: Mapping[str, PortSpec]) -> str:
    return ", ".join(f"{name}: {spec}" for name, spec in ports.items()) or "none"


def check_forward(subject: Subject) -> str:
    particle = subject.particle
    inputs, bindings = subject.inputs
    ports = particle.input_ports()
    runs = [("all inputs", inputs)]
    required = {k: v for k, v in inputs.items() if not ports[k].optional}
    if len(required) < len(inputs):
        runs.append(("required inputs only", required))
    problems, shown = [], ""
    for label, given in runs:
        pristine = clone_values(given)
        outputs = subject.run(particle, given, clone=False)
        found = output_problems(outputs, particle.output_ports(), bindings.copy())
        found += [f"forward modified its inputs in place: {d}" for d in differences(given, pristine, "input")]
        # a problem seen with all inputs is reported once, not again for the required-only run
        problems += [p if label == runs[0][0] else f"with {label}: {p}" for p in found if p not in problems]
        if not shown and isinstance(outputs, Mapping):
            shown = _io_summary(given, outputs)
    if problems:
        raise Failed("; ".join(problems))
    return shown


def _io_summary(inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> str:
    def show(values: Mapping[str, Any]) -> str:
        return ", ".join(f"{k}={describe(v)}" for k, v in values.items())

    return f"{show(inputs)} -> {show(outputs)}"


def _leads_with_batch(spec: PortSpec) -> bool:
    return bool(spec.dims) and spec.dims[0].symbol == "B"


def _perturb_first_item(value: Any) -> Any:
    """``value`` with batch item 0 changed, or ``None`` when it cannot be changed meaningfully."""
    if isinstance(value, torch.Tensor) and value.is_floating_point() and value.dim() >= 1 and len(value) >= 2:
        changed = value.clone()
        changed[0] = value[0] * -2.0 + 1.0
        return changed
    if isinstance(value, list) and len(value) >= 2 and isinstance(value[0], str):
        return [value[0][::-1] + " again", *value[1:]]
    return None


def check_batch_independent(subject: Subject) -> str:
    particle = subject.particle
    inputs, _ = subject.inputs
    in_ports, out_ports = particle.input_ports(), particle.output_ports()
    changed = dict(inputs)
    perturbed = []
    for name, value in inputs.items():
        new = _perturb_first_item(value) if _leads_with_batch(in_ports[name]) else None
        if new is not None:
            changed[name] = new
            perturbed.append(name)
    if not perturbed:
        return "not applicable: needs batch >= 2 and a float or text input whose first dimension is B"
    reference, moved = subject.run(particle, inputs), subject.run(particle, changed)
    problems = []
    for name, spec in out_ports.items():
        a, b = reference.get(name), moved.get(name)
        if not (_leads_with_batch(spec) and isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            continue
        if a.shape != b.shape:
            problems.append(f"output {name!r} changed shape from {tuple(a.shape)} to {tuple(b.shape)}")
            continue
        moved_items = [i for i in range(1, a.shape[0]) if not torch.allclose(a[i], b[i], rtol=1e-5, atol=1e-6)]
        if moved_items:
            problems.append(f"output {name!r} of item(s) {', '.join(map(str, moved_items))} changed")
    if problems:
        raise Failed(
            f"changing batch item 0 of {', '.join(perturbed)} changed other items: "
            + "; ".join(problems)
            + " (is a batch-first tensor read as sequence-first?)"
        )
    return f"changing item 0 of {', '.join(perturbed)} left the other items' outputs unchanged"


def check_save_load(subject: Subject) -> str:
    particle = subject.particle
    with tempfile.TemporaryDirectory(prefix="sora-check-") as tmp:
        directory = Path(tmp) / "particle"
        particle.save_pretrained(directory)
        torch.manual_seed(subject.seed + 1)  # whatever the files do not restore must not come back by chance
        loaded = type(particle).from_pretrained(directory)
        files = sorted(p.name for p in directory.iterdir())
    problems = []
    if type(loaded) is not type(particle):
        problems.append(f"from_pretrained built a {type(loaded).__qualname__}, not a {type(particle).__qualname__}")
    if loaded.config != particle.config:
        problems.append(f"config differs after loading: {loaded.config!r} vs {particle.config!r}")
    problems += differences(state_of(particle), state_of(loaded), "tensor")
    if isinstance(loaded, torch.nn.Module):
        loaded.eval()
    inputs, _ = subject.inputs
    problems += differences(subject.run(particle, inputs), subject.run(loaded, inputs))
    if problems:
        raise Failed("after save_pretrained/from_pretrained: " + "; ".join(problems))
    weights = f"{len(state_of(particle))} tensors bit-identical" if state_of(particle) else "no weights (config only)"
    return f"{weights}, outputs identical; files: {', '.join(files)}"


def check_config_json(subject: Subject) -> str:
    config_class = subject.cls.Config
    config = subject.particle.config
    if not isinstance(config, config_class):
        raise Failed(f"particle.config is a {type(config).__name__}, not the class's Config {config_class.__name__}")
    text = config.model_dump_json()
    again = config_class.model_validate_json(text)
    if again != config:
        raise Failed(f"config does not round-trip through JSON: {config!r} -> {text} -> {again!r}")
    config_class.model_json_schema()
    try:
        config_class()
    except Exception as exc:
        raise Failed(f"the default config is invalid ({error_text(exc)}); the manifest is built from it") from exc
    return text


def check_deterministic(subject: Subject) -> str:
    first = subject.particle
    second = subject.build()
    problems = [
        f"built twice under seed {subject.seed}: {p}" for p in differences(state_of(first), state_of(second), "tensor")
    ]
    inputs, _ = subject.inputs
    reference = subject.run(first, inputs)
    problems += [f"called twice under the same seed: {p}" for p in differences(reference, subject.run(first, inputs))]
    if not problems:
        problems += [
            f"built twice under the same seed: {p}" for p in differences(reference, subject.run(second, inputs))
        ]
    if problems:
        raise Failed("; ".join(problems))
    return f"same seed {subject.seed}: same weights and outputs"


def check_loaded_files(subject: Subject) -> str:
    """A ``pretrained_on_create`` particle names the files its constructor loaded, so that a lock can pin them."""
    try:
        named = dict(subject.particle.loaded_files())
    except Exception as exc:
        raise Failed(f"loaded_files() failed: {error_text(exc)}") from exc
    if not named:
        raise Failed(
            f"{subject.cls.__qualname__} sets pretrained_on_create but its loaded_files() names no files, so "
            "`sora lock` cannot pin the weights its constructor loads; return {'PACKAGE/FILE': path} for each"
        )
    problems = []
    for name, location in named.items():
        if not isinstance(name, str) or not name or Path(name).is_absolute() or ".." in Path(name).parts:
            problems.append(f"name {name!r} is not a relative name (say 'PACKAGE/FILE')")
        elif not Path(location).is_file():
            problems.append(f"{name!r}: {location} is not a file")
    if problems:
        raise Failed("loaded_files(): " + "; ".join(problems))
    return "loaded: " + ", ".join(sorted(named))


def check_manifest(subject: Subject, info: ParticleInfo) -> str:
    from sora_core.manifest_builder import describe_class

    declared = json.loads(json.dumps(describe_class(subject.cls), sort_keys=True))
    listed = info.to_dict()
    stored = {
        key: listed[key] for key in ("kind", "description", "inputs", "outputs", "config_schema", "default_config")
    }
    stale = [key for key, value in stored.items() if declared[key] != value]
    if declared.get("pretrained_on_create", False) != info.pretrained_on_create:
        stored["pretrained_on_create"] = info.pretrained_on_create
        declared.setdefault("pretrained_on_create", False)
        stale.append("pretrained_on_create")
    relative = declared["default_weights"]
    if (relative is None) != (info.default_weights is None) or (
        relative is not None and not Path(info.default_weights).as_posix().endswith(Path(relative).as_posix())
    ):
        stale.append("default_weights")
    if stale:
        details = "; ".join(
            f"{k}: manifest has {_short(stored.get(k, info.default_weights))}, code declares {_short(declared[k])}"
            for k in stale
        )
        raise Failed(
            f"the installed manifest of {info.full_name} is stale: {details}; "
            f"run `sora manifest {info.dist} --write` and reinstall the plugin"
        )
    return f"{info.full_name} matches its manifest"


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
