"""``sora tune``: search a pipeline's swaps and sampling settings for the best quality per second of video.

Nothing heavy is imported here at module level: Optuna, torch and matplotlib are imported by ``sora_core.tune``
when a study is run, reported or applied.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any

from sora_core.cli.output import print_table
from sora_core.cli.paths import check_output_path
from sora_core.errors import ConfigError

#: The default number of trials of a study (the baseline included).
TRIALS = 20
#: The default database (``sora_core.tune.study.DEFAULT_STORAGE``, repeated so ``sora tune --help`` imports nothing).
STORAGE = "sqlite:///tune.db"
#: The size flags and the config field each sets.
SIZE_FLAGS = ("frames", "height", "width")


def add_commands(commands: Any) -> None:
    tune = commands.add_parser(
        "tune", help="search swaps and sampling settings for quality against seconds per video (Optuna)"
    )
    tune.add_argument("target", metavar="TEMPLATE|SPEC", help="a template name (t2v) or a YAML/JSON spec file")
    tune.add_argument("--space", metavar="FILE", help="the search space as a YAML file (default: derived)")
    tune.add_argument("--explain", action="store_true", help="print the search space and exit")
    tune.add_argument("--prompts", metavar="FILE", help="the prompt set: a text file, one prompt a line")
    tune.add_argument("--limit", type=int, metavar="N", help="use the first N prompts only")
    tune.add_argument(
        "--trials", type=int, default=TRIALS, help=f"trials of the study in all, the baseline included ({TRIALS})"
    )
    tune.add_argument("--jobs", type=int, default=1, metavar="J", help="run trials in J local processes (1)")
    tune.add_argument("--study", metavar="NAME", help="the study's name (default: the pipeline's); reruns resume it")
    tune.add_argument("--storage", default=STORAGE, metavar="URL", help=f"where studies are stored ({STORAGE})")
    tune.add_argument("--seed", type=int, default=0, help="prompt i runs with seed SEED + i (0)")
    tune.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NODE.FIELD=VALUE",
        help="change the pipeline before tuning (the baseline too), e.g. --set scheduler.steps=8",
    )
    tune.add_argument("--frames", type=int, help="frames of every video (the sampler's; not tuned)")
    tune.add_argument("--height", type=int, help="video height in pixels (not tuned)")
    tune.add_argument("--width", type=int, help="video width in pixels (not tuned)")
    tune.add_argument("--evaluator", metavar="NAME", help="the video_evaluator particle (default: the installed one)")
    tune.add_argument(
        "--prune-margin",
        type=float,
        default=15.0,
        metavar="POINTS",
        help="stop a trial when a faster Pareto trial is this many quality points ahead so far (15; 100: never)",
    )
    tune.add_argument("--plot", metavar="FILE.png", help="the Pareto plot (default: STUDY-pareto.png)")
    tune.add_argument("--report", action="store_true", help="report a stored study (table and plot); run nothing")
    tune.add_argument("--apply", type=int, metavar="N", help="write trial N's pipeline as a spec (-o) and its lock")
    tune.add_argument("-o", "--output", metavar="FILE.yaml", help="with --apply: the spec to write")
    tune.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="show a progress bar")
    tune.set_defaults(run=run_tune)


def run_tune(args: argparse.Namespace) -> int:
    from sora_core import registry
    from sora_core.pipeline.pipeline import load_target

    _check_flags(args)
    if args.report or args.apply is not None:
        return _stored(args)
    prompts = None if args.explain else _prompt_set(args)
    plot = None if args.explain else _plot_path(args, args.study)
    spec, base_dir = load_target(args.target, registry.default_registry)
    spec = _base_spec(spec, args)
    space = _space(args, spec, base_dir)
    if args.explain:
        _explain(space)
        return 0
    return _run(args, spec, base_dir, space, prompts, plot)


def _check_flags(args: argparse.Namespace) -> None:
    from sora_core.limits import check_seed

    asked = (("--explain", args.explain), ("--report", args.report), ("--apply", args.apply is not None))
    modes = [flag for flag, on in asked if on]
    if len(modes) > 1:
        raise ConfigError(f"{' and '.join(modes)} exclude each other", "ask for one at a time")
    if args.output is not None and args.apply is None:
        raise ConfigError("-o/--output is the spec --apply writes", "add --apply N (a trial's number), or drop -o")
    if args.apply is not None and args.output is None:
        raise ConfigError("--apply N needs -o FILE.yaml, the spec to write", f"e.g. --apply {args.apply} -o fast.yaml")
    for flag, value, low in (("--trials", args.trials, 1), ("--jobs", args.jobs, 1), ("--limit", args.limit, 1)):
        if value is not None and value < low:
            raise ConfigError(f"{flag} {value}: must be at least {low}", f"e.g. {flag} {max(low, 2)}")
    if not (math.isfinite(args.prune_margin) and 0 <= args.prune_margin <= 100):
        raise ConfigError(
            f"--prune-margin {args.prune_margin:g}: must be from 0 to 100 quality points",
            "15 is the default; 100 never prunes",
        )
    for flag in SIZE_FLAGS:
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise ConfigError(f"--{flag} {value}: must be at least 1", "give a positive size")
    check_seed(args.seed, "--seed")


def _prompt_set(args: argparse.Namespace) -> list[str]:
    from sora_core.cli.generate_command import prompts_from_file
    from sora_core.limits import check_seed

    if args.prompts is None:
        raise ConfigError(
            "sora tune needs a prompt set to measure quality on", "pass --prompts FILE (one prompt a line)"
        )
    prompts = prompts_from_file(args.prompts)
    prompts = prompts[: args.limit] if args.limit else prompts
    check_seed(args.seed + len(prompts) - 1, "--seed (plus one per prompt)")
    return prompts


def _plot_path(args: argparse.Namespace, study: str | None) -> Path | None:
    """``--plot``, checked before any work; ``None`` when it is the default (named after the study, checked once
    the study's name is known)."""
    if args.plot is None:
        return None if study is None else check_output_path(f"{study}-pareto.png", "the plot", (".png",), "image")
    return check_output_path(args.plot, "--plot", (".png",), "image")


def _base_spec(spec: Any, args: argparse.Namespace) -> Any:
    """``spec`` with every ``--set`` applied and ``--frames/--height/--width`` set on the node that has those
    fields (the sampler): the pipeline the study tunes, its baseline."""
    from sora_core import registry
    from sora_core.cli.pipeline_commands import node_settings

    settings = node_settings(args.settings)
    for flag in SIZE_FLAGS:
        value = getattr(args, flag)
        if value is None:
            continue
        nodes = [
            name
            for name, node in spec.nodes.items()
            if flag in registry.default_registry.info(node.particle).config_schema.get("properties", {})
        ]
        if not nodes:
            raise ConfigError(f"--{flag}: no node of pipeline {spec.name!r} has a {flag!r} setting", "drop --" + flag)
        settings.setdefault("sampler" if "sampler" in nodes else nodes[0], {})[flag] = value
    if not settings:
        return spec
    from sora_core.pipeline.pipeline import with_changes

    return with_changes(spec, registry.default_registry, settings=settings)


def _space(args: argparse.Namespace, spec: Any, base_dir: Path | None) -> Any:
    from sora_core import registry
    from sora_core.tune.space import derive_space
    from sora_core.tune.space_file import load_space_file

    if args.space is None:
        space = derive_space(spec, registry.default_registry, base_dir)
        if not len(space):
            raise ConfigError(
                f"pipeline {spec.name!r} has nothing to tune: no node has another particle that fits, and no node "
                "whose config may change has steps, guidance_scale, shift or candidates",
                "declare a space with --space FILE (see docs/tuning.md#the-space-file)",
            )
        return space
    return load_space_file(
        args.space, target=args.target, spec=spec, registry=registry.default_registry, base_dir=base_dir
    )


def _explain(space: Any) -> None:
    print_table(
        f"search space of pipeline {space.pipeline!r} ({len(space)} parameters)",
        ["PARAMETER", "KIND", "CURRENT", "RANGE OR CHOICES"],
        space.rows(),
        plain_title=True,
    )
    for note in space.notes():
        print(f"note: {note}")


def _stored_target(target: str) -> str:
    """How a study records its pipeline: a template's name, or a spec file's absolute path."""
    return str(Path(target).resolve()) if os.path.exists(target) else target


def _run(args: argparse.Namespace, spec: Any, base_dir: Path | None, space: Any, prompts: Any, plot: Any) -> int:
    from sora_core import registry
    from sora_core.tune.objective import TuneSetup, find_evaluator, pipeline_ports
    from sora_core.tune.study import RunOptions, run_study

    name = args.study or spec.name
    plot = plot or _plot_path(args, name)
    evaluator = find_evaluator(registry.default_registry, args.evaluator)
    prompt_input, video_output = pipeline_ports(spec, args.target)
    setup = TuneSetup(
        target=_stored_target(args.target),
        spec=spec.to_data(),
        base_dir=None if base_dir is None else str(base_dir),
        space=space.to_data(),
        prompts=tuple(prompts),
        seed=args.seed,
        evaluator=evaluator,
        input=prompt_input,
        output=video_output,
    )
    options = RunOptions(args.trials, args.jobs, args.prune_margin, args.progress)
    study, ran = run_study(args.storage, name, setup, options)
    _report(study, args.storage, plot, ran)
    return 0


def _stored(args: argparse.Namespace) -> int:
    """``--report`` and ``--apply`` on a stored study."""
    from sora_core import registry
    from sora_core.pipeline.pipeline import load_target
    from sora_core.tune.errors import TuneError
    from sora_core.tune.study import stored_study

    name = args.study or load_target(args.target, registry.default_registry)[0].name
    output = check_output_path(args.output, "-o", (".yaml", ".yml", ".json"), "spec") if args.output else None
    plot = _plot_path(args, name) if args.report else None
    study, setup = stored_study(args.storage, name)
    if setup.target != _stored_target(args.target):
        raise TuneError(
            f"study {name!r} in {args.storage} tuned {setup.target}, not {args.target}",
            f"run sora tune {setup.target} ... --study {name}, or name another study with --study",
        )
    if args.report:
        _report(study, args.storage, plot, None)
        return 0
    from sora_core.tune.apply import apply_trial

    spec_path, lock_path = apply_trial(study, setup, args.apply, output, registry.default_registry)
    print(f"wrote {spec_path} (trial {args.apply}) and {lock_path}")
    print(f"run it with: sora run {spec_path} --locked {lock_path} --input prompt=...")
    return 0


def _report(study: Any, url: str, plot: Path, ran: int | None) -> None:
    from sora_core.tune.report import completed, failures, pareto_table, summary, write_plot

    print(summary(study, url, ran))
    for line in failures(study):
        print(line)
    done = completed(study)
    if not done:
        from sora_core.tune.errors import TuneError

        raise TuneError(
            f"no trial of study {study.study_name!r} has completed, so there is no Pareto front",
            "the failed trials' errors are listed above: fix their cause, then start another study (--study NAME) "
            "or ask for more --trials",
        )
    headers, rows = pareto_table(study)
    print_table("Pareto front", headers, rows, plain_title=True)
    write_plot(study, plot, f"sora tune: study {study.study_name!r}, {len(done)} completed trials")
    print(f"wrote {plot}")
