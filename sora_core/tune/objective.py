"""A trial of ``sora tune``: the pipeline with the trial's swaps and settings, run on every prompt of the prompt set
with fixed seeds (``seed + i``), each video scored by a ``video_evaluator`` particle.

Two objectives: quality, the mean per-attribute accuracy in percent (maximised; each attribute's accuracy is kept
as a user attribute), and the seconds per video, the median wall time of the pipeline's run on one prompt
(minimised; the median, so that one slow run, such as the first while caches warm, does not decide).

Pruning (Optuna's pruners do not support several objectives): after each quarter of the prompts, a trial is
stopped when a completed trial on the Pareto front is at least as fast as this trial's seconds per video so far
and its quality beats this trial's quality so far by more than ``prune_margin`` points (default 15). Time per
video hardly changes from prompt to prompt, so a trial already slower than a front trial stays slower; quality
so far is a noisy estimate, which is what the margin is for: to escape, a pruned trial would have to gain more
than the margin on the prompts it has not run. The baseline (trial 0) is never pruned.
"""

from __future__ import annotations

import math
import os
import statistics
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sora_core.errors import ConfigError, SoraError, SoraWarning
from sora_core.tune.space import SearchSpace

if TYPE_CHECKING:
    from sora_core.particle import Particle
    from sora_core.pipeline.spec import PipelineSpec
    from sora_core.registry import Registry

#: The kind of particle that scores a video against its prompt.
EVALUATOR_KIND = "video_evaluator"
#: The default ``--prune-margin``: quality points a faster Pareto trial must be ahead by to stop a trial.
PRUNE_MARGIN = 15.0
#: How many distinct warnings of a trial's particles are kept in its ``warnings`` user attribute.
MAX_WARNINGS = 5


@dataclass(frozen=True)
class TuneSetup:
    """What a study's objectives are measured on. Stored with the study: a resumed study must be the same.

    ``spec`` is the pipeline's spec as data (``--frames/--height/--width`` applied) and ``base_dir`` the folder its
    relative weights are read from; ``inputs``/``output`` are the pipeline input the prompts go to and the output
    holding the video.
    """

    target: str
    spec: Mapping[str, Any]
    base_dir: str | None
    space: Mapping[str, Any]
    prompts: tuple[str, ...]
    seed: int
    evaluator: str
    input: str
    output: str

    def to_data(self) -> dict[str, Any]:
        data = asdict(self)
        data["prompts"] = list(self.prompts)
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> TuneSetup:
        return cls(**{**data, "prompts": tuple(data["prompts"])})

    def pipeline_spec(self) -> PipelineSpec:
        from sora_core.pipeline.spec import spec_from_data

        return spec_from_data(dict(self.spec), f"the pipeline of {self.target}")

    def search_space(self) -> SearchSpace:
        return SearchSpace.from_data(self.space)

    def changed_spec(self, registry: Registry, swaps: Mapping[str, Any], settings: Mapping[str, Any]) -> PipelineSpec:
        """The spec with a trial's swaps and settings applied."""
        from sora_core.pipeline.pipeline import with_changes

        return with_changes(self.pipeline_spec(), registry, swaps=swaps, settings=settings)

    @property
    def folder(self) -> Path | None:
        return None if self.base_dir is None else Path(self.base_dir)


def find_evaluator(registry: Registry, name: str | None) -> str:
    """The full name of evaluator ``name`` (``--evaluator``), or of the only installed ``video_evaluator``."""
    found = registry.list(kind=EVALUATOR_KIND)
    if name is None:
        if len(found) == 1:
            return found[0].full_name
        if not found:
            raise ConfigError(
                f"no {EVALUATOR_KIND} particle is installed: sora tune needs one to score the videos",
                "install sora-synth (its clip-evaluator scores a video against its prompt), or a plugin with one",
            )
        raise ConfigError(
            f"{len(found)} {EVALUATOR_KIND} particles are installed: " + ", ".join(p.full_name for p in found),
            "choose one with --evaluator NAME",
        )
    try:
        info = registry.info(name)
    except SoraError as exc:
        raise ConfigError(f"--evaluator {name}: {exc.message}", exc.hint) from None
    if info.kind != EVALUATOR_KIND:
        installed = ", ".join(p.full_name for p in found) or "none"
        raise ConfigError(
            f"--evaluator {name}: {info.full_name} is a {info.kind}, not a {EVALUATOR_KIND}",
            f"installed {EVALUATOR_KIND} particles: {installed}",
        )
    if not {"video", "prompt"} <= set(info.inputs) or "scores" not in info.outputs:
        raise ConfigError(
            f"--evaluator {name}: {info.full_name} does not take 'video' and 'prompt' and give 'scores'",
            "sora tune calls an evaluator as evaluator(video=..., prompt=[...]) and reads its 'scores' (B, K)",
        )
    return info.full_name


def pipeline_ports(spec: PipelineSpec, where: str) -> tuple[str, str]:
    """The pipeline input the prompts go to (its only input) and the output holding the video (``video``, or the
    only output)."""
    inputs, outputs = list(spec.inputs), list(spec.outputs)
    video = "video" if "video" in outputs else outputs[0] if len(outputs) == 1 else None
    if len(inputs) != 1:
        raise ConfigError(
            f"{where}: pipeline {spec.name!r} has inputs {', '.join(inputs) or 'none'}; sora tune feeds it one, "
            "the prompt",
            "tune a text-to-video pipeline with one input (a prompt), such as t2v",
        )
    if video is None:
        raise ConfigError(
            f"{where}: pipeline {spec.name!r} has outputs {', '.join(outputs)} and none is named 'video'",
            "name the output that holds the video 'video'",
        )
    return inputs[0], video


def checkpoints(total: int) -> list[int]:
    """After how many prompts a trial may be pruned: each quarter of ``total``, never at the end."""
    return sorted({math.ceil(total * quarter / 4) for quarter in (1, 2, 3)} - {0, total})


def prune_reason(
    quality: float, seconds: float, front: Sequence[tuple[int, float, float]], margin: float
) -> str | None:
    """Why a trial of ``quality`` (percent so far) at ``seconds`` (per video so far) is hopeless, or ``None``.

    ``front``: the completed Pareto trials as ``(number, quality, seconds)``. Hopeless: one of them is at least
    as fast and more than ``margin`` quality points better.
    """
    for number, front_quality, front_seconds in sorted(front, key=lambda entry: -entry[1]):
        if front_seconds <= seconds and front_quality - quality > margin:
            return (
                f"trial {number} is as fast or faster ({front_seconds:.2f} s against {seconds:.2f} s a video) and "
                f"{front_quality - quality:.1f} points better ({front_quality:.1f}% against {quality:.1f}%), "
                f"more than the margin of {margin:g}"
            )
    return None


class Tally:
    """Scores and times of a trial's videos so far."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.sums: list[float] = []
        self.seconds: list[float] = []

    @property
    def done(self) -> int:
        return len(self.seconds)

    def add(self, scores: Sequence[float], seconds: float, names: list[str]) -> None:
        if not self.sums:
            self.names, self.sums = names, [0.0] * len(scores)
        self.sums = [total + float(score) for total, score in zip(self.sums, scores, strict=True)]
        self.seconds.append(seconds)

    def accuracy(self) -> dict[str, float]:
        """Per attribute, the percentage of videos so far it agrees on."""
        return {name: 100.0 * total / self.done for name, total in zip(self.names, self.sums, strict=True)}

    def quality(self) -> float:
        accuracy = self.accuracy()
        return statistics.fmean(accuracy.values()) if accuracy else 0.0

    def seconds_per_video(self) -> float:
        return statistics.median(self.seconds)


def attribute_names(evaluator: Particle, count: int) -> list[str]:
    """Names for the ``count`` columns of the evaluator's scores: its ``attributes`` when it has them, else the
    list its ``scores`` port describes (sora-synth's: "per video: colour, shape, motion, count (...)"), else
    ``score1``, ``score2``, ..."""
    names = list(getattr(evaluator, "attributes", None) or ())
    if len(names) != count:
        port = evaluator.output_ports().get("scores")
        listed = (port.description or "").partition(":")[2].partition("(")[0] if port is not None else ""
        names = [word.strip() for word in listed.split(",")]
    if len(names) != count or not all(name.isidentifier() for name in names):
        names = [f"score{index + 1}" for index in range(count)]
    return names


class Objective:
    """The objective function of a study: ``objective(trial) -> (quality, seconds per video)``.

    Built once per worker process (the evaluator is created once); each trial builds its own pipeline. A trial
    that fails (a config its particle refuses, an error while running) records ``error`` and raises; the study
    records it failed and goes on.
    """

    def __init__(self, setup: TuneSetup, registry: Registry, *, prune_margin: float = PRUNE_MARGIN, worker: int = 0):
        self.setup = setup
        self.registry = registry
        self.space = setup.search_space()
        self.prune_margin = prune_margin
        self.worker = worker
        self.evaluator = registry.create(setup.evaluator)

    def __call__(self, trial: Any) -> tuple[float, float]:
        import optuna

        trial.set_user_attr("worker", self.worker)
        trial.set_user_attr("pid", os.getpid())
        baseline = trial.user_attrs.get("baseline")
        try:
            swaps, settings = self.space.suggest(trial, only=baseline)
            trial.set_user_attr("swaps", swaps)
            trial.set_user_attr("settings", settings)
            return self._measure(trial, swaps, settings, prunable=baseline is None)
        except optuna.TrialPruned:
            raise
        except KeyboardInterrupt:
            trial.set_user_attr("error", "interrupted (Ctrl-C)")
            raise
        except SoraError as exc:
            trial.set_user_attr("error", exc.message + (f" (hint: {exc.hint})" if exc.hint else ""))
            raise
        except Exception as exc:
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
            raise

    def _measure(self, trial: Any, swaps: Any, settings: Any, *, prunable: bool) -> tuple[float, float]:
        from sora_core import progress
        from sora_core.pipeline import Pipeline

        setup = self.setup
        spec = setup.changed_spec(self.registry, swaps, settings)
        tally = Tally()
        stops = set(checkpoints(len(setup.prompts))) if prunable else set()
        with warnings.catch_warnings(record=True) as caught, progress.quiet():
            warnings.simplefilter("always")
            try:
                pipe = Pipeline.from_spec(spec, registry=self.registry, seed=setup.seed, base_dir=setup.folder)
                for index, prompt in enumerate(setup.prompts):
                    start = time.perf_counter()
                    outputs = pipe.run({setup.input: [prompt]}, seed=setup.seed + index, progress=False)
                    seconds = time.perf_counter() - start
                    scores = self.evaluator(video=outputs[setup.output], prompt=[prompt])["scores"][0].tolist()
                    tally.add(scores, seconds, attribute_names(self.evaluator, len(scores)))
                    if tally.done in stops:
                        self._maybe_prune(trial, tally)
            finally:
                _keep_warnings(trial, caught)
        accuracy = tally.accuracy()
        trial.set_user_attr("accuracy", accuracy)
        return tally.quality(), tally.seconds_per_video()

    def _maybe_prune(self, trial: Any, tally: Tally) -> None:
        import optuna

        front = [(t.number, t.values[0], t.values[1]) for t in trial.study.best_trials if t.number != trial.number]
        quality, seconds = tally.quality(), tally.seconds_per_video()
        reason = prune_reason(quality, seconds, front, self.prune_margin)
        if reason is None:
            return
        reason = f"after {tally.done} of {len(self.setup.prompts)} prompts: {reason}"
        trial.set_user_attr("pruned", reason)
        trial.set_user_attr("accuracy", tally.accuracy())
        trial.set_user_attr("quality_so_far", quality)
        trial.set_user_attr("seconds_so_far", seconds)
        raise optuna.TrialPruned(reason)


def _keep_warnings(trial: Any, caught: list[warnings.WarningMessage]) -> None:
    """The particles' own warnings (a size outside what the weights were trained on) as the trial's ``warnings``;
    others (libraries') are dropped: a study runs many trials, and they would repeat on every one."""
    kept = list(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, SoraWarning)))
    if kept:
        trial.set_user_attr("warnings", kept[:MAX_WARNINGS])
