"""``sora tune ... --apply N -o FILE.yaml``: trial N's pipeline written as a spec, with its lock beside it
(``FILE.lock.json``), so that ``sora run FILE.yaml --locked FILE.lock.json`` runs exactly what was measured."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from sora_core.tune.errors import TuneError
from sora_core.tune.report import params_text, pareto_trials

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

    from sora_core.registry import Registry
    from sora_core.tune.objective import TuneSetup


def lock_path_for(spec_path: str | os.PathLike[str]) -> Path:
    """``fast.yaml`` -> ``fast.lock.json``, beside it."""
    path = Path(spec_path)
    return path.with_name(f"{path.stem}.lock.json")


def applicable_trial(study: optuna.Study, number: int) -> FrozenTrial:
    """Trial ``number`` when it completed; otherwise a ``TuneError`` naming it and listing the Pareto trials."""
    from optuna.trial import TrialState

    front = pareto_trials(study)
    hint = (
        "apply a completed trial; the Pareto front: "
        + ", ".join(f"{t.number} ({t.values[0]:.1f}% at {t.values[1]:.2f} s)" for t in front)
        if front
        else "no trial has completed yet: run the study first"
    )
    trials = {trial.number: trial for trial in study.get_trials(deepcopy=False)}
    if number not in trials:
        span = f"trials 0 to {max(trials)}" if trials else "no trials"
        raise TuneError(f"study {study.study_name!r} has no trial {number} ({span})", hint)
    trial = trials[number]
    if trial.state != TrialState.COMPLETE:
        state = {"FAIL": "failed", "PRUNED": "pruned"}.get(trial.state.name, trial.state.name.lower())
        why = trial.user_attrs.get("error") or trial.user_attrs.get("pruned")
        raise TuneError(f"trial {number} of study {study.study_name!r} {state}" + (f": {why}" if why else ""), hint)
    return trial


def apply_trial(
    study: optuna.Study, setup: TuneSetup, number: int, output: str | os.PathLike[str], registry: Registry
) -> tuple[Path, Path]:
    """Write trial ``number``'s spec to ``output`` (YAML, or JSON for ``.json``) and its lock beside it, both
    atomically; relative weight folders are written as absolute paths so the spec loads the same weights."""
    import yaml

    from sora_core.atomic import atomic_write_text
    from sora_core.pipeline import Pipeline
    from sora_core.pipeline.lock import write_lock
    from sora_core.pipeline.pipeline import portable_spec

    trial = applicable_trial(study, number)
    spec = setup.changed_spec(registry, trial.user_attrs.get("swaps", {}), trial.user_attrs.get("settings", {}))
    spec = portable_spec(spec, setup.folder)
    output = Path(output)
    pipe = Pipeline.from_spec(spec, registry=registry, base_dir=output.resolve().parent)
    if output.suffix.lower() == ".json":
        text = json.dumps(spec.to_data(), indent=2) + "\n"
    else:
        text = (
            f"# trial {trial.number} of sora tune study {study.study_name!r}: {trial.values[0]:.1f}% quality, "
            f"{trial.values[1]:.2f} s a video\n# {params_text(trial)}\n"
        ) + yaml.safe_dump(spec.to_data(), sort_keys=False, allow_unicode=True)
    atomic_write_text(output, text)
    lock = write_lock(pipe, lock_path_for(output))
    return output, lock
