"""``sora run``, ``sora graph`` and ``sora lock``: pipelines from a spec file or a template."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from sora_core.cli.output import print_json, print_table
from sora_core.cli.paths import check_output_path
from sora_core.errors import ConfigError, SoraError, SpecError

#: ``--swap``'s help, for every command that takes it (``generate``, ``caption``, ``ask`` and ``summarize`` too).
SWAP_HELP = (
    "replace a node's particle before building (refused if it does not fit): NODE=PARTICLE (fresh), "
    "NODE=PARTICLE@WEIGHTS_DIR (loaded from a save_pretrained folder, or @default) or NODE=WEIGHTS_DIR "
    "(the particle its config.json names)"
)


def add_commands(commands: Any) -> None:
    run = commands.add_parser("run", help="run a pipeline from a spec file or an installed template")
    _target(run)
    run.add_argument(
        "--input",
        dest="inputs",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a pipeline input: randn:16,10,512 | zeros:... | FILE.safetensors[:TENSOR] | CLIP.mp4 | CLIP.gif | "
        "FRAMES_DIR | JSON | text",
    )
    run.add_argument("--seed", type=int, default=None, help="seed the run (and random inputs) for reproducibility")
    run.add_argument("--sequential", action="store_true", help="run independent branches one after another")
    run.add_argument("--trace", action="store_true", help="print each node's wall time, peak memory, output shapes")
    run.add_argument("--trace-out", metavar="FILE", help="write a Chrome trace-event JSON of the run")
    run.add_argument("--locked", metavar="LOCKFILE", help="refuse to run if the pipeline drifted from this lock")
    run.add_argument("--output", metavar="FILE", help="save the tensor outputs to a safetensors file")
    run.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="show a progress bar")
    run.add_argument("--json", action="store_true", help="print JSON")
    run.set_defaults(run=run_pipeline)

    graph = commands.add_parser("graph", help="draw a pipeline as Mermaid, Graphviz DOT or a self-contained HTML page")
    _target(graph)
    graph.add_argument("--format", choices=("mermaid", "dot", "html"), default="mermaid")
    graph.add_argument("--trace", metavar="TRACE", help="a trace from `sora run --trace-out`: show node times")
    graph.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: standard output)")
    graph.set_defaults(run=run_graph)

    lock = commands.add_parser("lock", help="pin each node's distribution, class, config and weight hashes")
    _target(lock)
    lock.add_argument("-o", "--output", metavar="FILE", help="default: NAME.lock.json in the current directory")
    lock.set_defaults(run=run_lock)


def _target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="SPEC_OR_TEMPLATE", help="a YAML/JSON spec file, or a template name")
    parser.add_argument(
        "--swap",
        dest="swaps",
        action="append",
        default=[],
        metavar="NODE=PARTICLE",
        help=SWAP_HELP,
    )
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NODE.FIELD=VALUE",
        help="change one config field of a node (JSON value, else text), e.g. --set denoiser.depth=2",
    )


def build(
    args: argparse.Namespace,
    *,
    materialize: bool = True,
    spec: Any = None,
    placement: tuple[str | None, str | None] = (None, None),
) -> Any:
    """The pipeline ``args.target`` names (or ``spec``) with every ``--swap`` and ``--set`` applied together,
    built once; ``placement`` ``(device, dtype)`` moves every node and casts the nodes with weights (not the VAE's)."""
    from sora_core import registry
    from sora_core.limits import check_seed
    from sora_core.pipeline import Pipeline
    from sora_core.pipeline.pipeline import load_target, placed_spec, with_changes

    seed = check_seed(getattr(args, "seed", None), "--seed")
    swaps = dict(parse_swap(swap, registry.default_registry) for swap in args.swaps)
    base_dir = None
    if spec is None:
        spec, base_dir = load_target(args.target, registry.default_registry)
    spec = with_changes(
        spec, registry.default_registry, swaps=swaps, settings=node_settings(getattr(args, "settings", []))
    )
    spec = placed_spec(spec, registry.default_registry, *placement)
    return Pipeline.from_spec(spec, materialize=materialize, seed=seed, base_dir=base_dir)


def parse_swap(text: str, registry: Any) -> tuple[str, Any]:
    """``--swap`` ``NODE=PARTICLE``, ``NODE=PARTICLE@WEIGHTS_DIR`` or ``NODE=WEIGHTS_DIR`` as a node and its swap.

    A value that is a path (``./x``, ``runs/x``, ``~/x``), or a folder that is no particle's name, is a weights
    folder whose ``config.json`` names the particle (resolved through the registry, nothing imported). Every
    refusal names the flag and the folder or particle.
    """
    from sora_core.pipeline.pipeline import particle_for_weights

    node, sep, value = text.partition("=")
    forms = "write --swap NODE=PARTICLE, NODE=PARTICLE@WEIGHTS_DIR or NODE=WEIGHTS_DIR (e.g. attention=my-attention)"
    if not sep or not node or not value:
        raise ConfigError(f"--swap {text!r} is not NODE=PARTICLE", forms)
    where = f"--swap {text}"
    if "@" in value and not _is_dir(value):
        particle, _, weights = value.partition("@")
        if not particle or not weights:
            raise ConfigError(f"{where}: PARTICLE@WEIGHTS_DIR needs both a particle and a folder", forms)
        full_name = _resolved(where, particle, registry)
        if weights != "default" and not _is_dir(weights):
            raise ConfigError(
                f"{where}: weights folder {weights} does not exist (or is not a folder)",
                "give a folder written by save_pretrained, or @default for the weights the particle's plugin ships",
            )
        if weights != "default":
            try:
                saved_by = particle_for_weights(weights, registry)
            except SoraError:
                saved_by = None  # another library's folder (diffusers): its particle's loader checks it
            if saved_by is not None and saved_by != full_name:
                raise ConfigError(
                    f"{where}: folder {weights} was saved by particle {saved_by}, not {full_name}",
                    f"write --swap {node}={weights} (or {node}={saved_by}@{weights})",
                )
        return node, {"particle": particle, "weights": weights}
    if _looks_like_path(value) or (_is_dir(value) and not _is_particle(value, registry)):
        try:
            particle = particle_for_weights(value, registry)
        except SoraError as exc:
            from sora_core.errors import CorruptWeightsError

            hint = exc.hint
            if isinstance(exc, CorruptWeightsError):  # a diffusers folder: its config names no particle
                hint = f"name the particle that reads it: --swap {node}=PARTICLE@{value} (`sora list` shows them)"
            raise ConfigError(f"{where}: {exc.message}", hint) from None
        return node, {"particle": particle, "weights": value}
    _resolved(where, value, registry)
    return node, value


def _resolved(where: str, name: str, registry: Any) -> str:
    """The full name of particle ``name``; an unknown or ambiguous name is refused naming the flag."""
    from sora_core.errors import ParticleNotFoundError

    try:
        return str(registry.info(name).full_name)
    except ParticleNotFoundError as exc:
        hint = exc.hint if exc.close_matches else "see `sora list` for the installed particles"
        raise ConfigError(
            f"{where}: unknown particle {name!r} (and no weights folder {name!r} here)",
            hint + "; a weights folder is NODE=WEIGHTS_DIR (or NODE=PARTICLE@WEIGHTS_DIR)",
        ) from None
    except SoraError as exc:  # an ambiguous short name: "use the full name", as `sora info` says
        raise ConfigError(f"{where}: {exc.message}", exc.hint) from None


def _is_particle(name: str, registry: Any) -> bool:
    from sora_core.errors import ParticleNotFoundError

    try:
        registry.info(name)
    except ParticleNotFoundError:
        return False
    except SoraError:
        return True  # ambiguous: a particle name all the same
    return True


def _looks_like_path(value: str) -> bool:
    return "/" in value or os.sep in value or value.startswith((".", "~"))


def _is_dir(text: str) -> bool:
    try:
        return Path(text).expanduser().is_dir()
    except (OSError, ValueError):
        return False


def node_settings(settings: list[str]) -> dict[str, dict[str, Any]]:
    """``["denoiser.depth=2", ...]`` -> ``{"denoiser": {"depth": 2}}``; values are JSON when they parse."""
    import json

    grouped: dict[str, dict[str, Any]] = {}
    for item in settings:
        target, sep, text = item.partition("=")
        node, dot, field = target.partition(".")
        if not sep or not dot or not node or not field:
            raise ConfigError(f"--set {item!r} is not NODE.FIELD=VALUE", "write e.g. --set sampler.guidance_scale=5")
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        except RecursionError:
            raise ConfigError(f"--set {target}: the value is nested too deeply", "write a plainer value") from None
        grouped.setdefault(node, {})[field] = value
    return grouped


def run_pipeline(args: argparse.Namespace) -> int:
    import torch

    from sora_core.pipeline.trace import Tracer
    from sora_core.pipeline.values import describe_value, parse_value, save_outputs

    for flag, path in (("--output", args.output), ("--trace-out", args.trace_out)):
        if path is not None:
            check_output_path(path, flag)
    pipe = build(args)
    if args.locked:
        from sora_core.pipeline.lock import check_lock

        check_lock(pipe, args.locked)
    specs = {name: entry["spec"] for name, entry in pipe.describe()["inputs"].items()}
    generator = torch.Generator().manual_seed(args.seed if args.seed is not None else 0)
    inputs = {}
    for item in args.inputs:
        name, sep, text = item.partition("=")
        if not sep or name not in specs:
            raise ConfigError(
                f"--input {item!r}: {'unknown input ' + repr(name) if sep else 'not NAME=VALUE'}",
                "the pipeline's inputs are " + (", ".join(sorted(specs)) or "none"),
            )
        inputs[name] = parse_value(name, text, specs[name], generator)
    tracer = Tracer()
    if args.trace or args.trace_out:
        pipe.observe(tracer)
    outputs = pipe.run(inputs, seed=args.seed, concurrent=not args.sequential, progress=args.progress)
    if args.output:
        save_outputs(outputs, args.output)
    if args.trace_out:
        tracer.write_chrome_trace(args.trace_out)
    report = {name: describe_value(value) for name, value in outputs.items()}
    if args.json:
        print_json({"outputs": report, "trace": tracer.summary() if args.trace else None})
        return 0
    rows = [
        (name, d.get("dtype", d.get("type", "")), str(d.get("shape", "")), _value_text(d)) for name, d in report.items()
    ]
    print_table(f"pipeline {pipe.name}: outputs", ("OUTPUT", "TYPE", "SHAPE", "VALUE"), rows)
    if args.trace:
        trace_rows = [
            (
                node,
                record.particle,
                f"{record.seconds * 1000:.2f}",
                f"{record.peak_memory_bytes / 2**20:.1f}",
                ", ".join(f"{p}{tuple(s)}" for p, s in record.output_shapes.items()),
            )
            for node, record in tracer.nodes.items()
        ]
        print_table("trace", ("NODE", "PARTICLE", "MS", "PEAK MIB", "OUTPUT SHAPES"), trace_rows, plain_title=True)
    return 0


def _value_text(description: dict[str, Any]) -> str:
    """Statistics of a tensor, or the value itself (a caption, an answer) when it is not one."""
    if "value" in description:
        return str(description["value"])
    if "mean" in description:
        return f"mean {description['mean']:.4g}, std {description['std']:.4g}"
    return ""


def run_graph(args: argparse.Namespace) -> int:
    from sora_core.pipeline import render

    if args.output is not None:
        check_output_path(args.output, "--output")
    pipe = build(args, materialize=False)
    trace = _read_trace(args.trace) if args.trace else None
    description = pipe.describe(trace)
    text = {"mermaid": render.to_mermaid, "dot": render.to_dot, "html": render.to_html}[args.format](description)
    if args.output:
        _write_text(Path(args.output), text)
        drawing = {"mermaid": "a Mermaid", "dot": "a Graphviz DOT", "html": "an HTML"}[args.format]
        timed = " with node times" if trace else ""
        print(f"wrote {args.output}: {drawing} drawing of pipeline {pipe.name!r} ({len(pipe.nodes)} nodes){timed}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def run_lock(args: argparse.Namespace) -> int:
    from sora_core.pipeline.lock import write_lock

    if args.output is not None:
        check_output_path(args.output, "--output")
    pipe = build(args)
    path = write_lock(pipe, args.output or _default_lock_path(pipe.name))
    print(f"wrote {path}")
    return 0


def _default_lock_path(name: str) -> Path:
    """``NAME.lock.json`` in the working directory; a pipeline name that is not a plain file name is refused."""
    file_name = f"{name}.lock.json"
    if Path(file_name).name != file_name or "\\" in name or "\0" in name:
        raise ConfigError(
            f"pipeline name {name!r} cannot name a lock file in the current directory", "pass -o FILE.lock.json"
        )
    return check_output_path(file_name, "the lock file")


def _read_trace(path: str) -> dict[str, Any]:
    from sora_core.pipeline.trace import summary_from_chrome_trace
    from sora_core.safe_json import load_json_bytes

    hint = "pass a file written by `sora run --trace-out`"
    try:
        data = load_json_bytes(Path(path).read_bytes(), f"trace {path}", error=SpecError, hint=hint)
        if not isinstance(data, dict) or not isinstance(data.get("traceEvents"), list):
            raise SpecError(f"trace {path} is not a Chrome trace (no 'traceEvents' list)", hint)
        summary = summary_from_chrome_trace(data)
    except (OSError, AttributeError, TypeError, KeyError) as exc:
        # AttributeError/TypeError/KeyError: events of another shape than sora run writes
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise SpecError(f"cannot read trace {path}: {reason}", hint) from None
    if not summary:
        raise SpecError(f"trace {path} holds no node times", hint)
    return summary


def _write_text(path: Path, text: str) -> None:
    from sora_core.atomic import atomic_write_text

    atomic_write_text(path, text)
