"""What a study found: its Pareto front as a table, and a plot of every completed trial with the front joined
and the baseline marked (a PNG drawn by matplotlib's Agg backend, written atomically)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial


def pareto_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The completed trials no other beats on both objectives, highest quality first (then fastest)."""
    return sorted(study.best_trials, key=lambda t: (-t.values[0], t.values[1], t.number))


def completed(study: optuna.Study) -> list[FrozenTrial]:
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def is_baseline(trial: FrozenTrial) -> bool:
    return "baseline" in trial.user_attrs


def params_text(trial: FrozenTrial) -> str:
    """The trial's parameters, ``node=particle`` and ``node.field=value``; the baseline says it changes nothing."""
    if is_baseline(trial):
        return "baseline (the pipeline unchanged)"
    return ", ".join(f"{name}={_value(value)}" for name, value in trial.params.items()) or "-"


def _value(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def pareto_table(study: optuna.Study) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the Pareto front: trial, quality, each attribute's accuracy, seconds a video, params."""
    front = pareto_trials(study)
    names = list(front[0].user_attrs.get("accuracy", {})) if front else []
    headers = ["TRIAL", "QUALITY", *names, "S/VIDEO", "PARAMS"]
    rows = []
    for trial in front:
        accuracy = trial.user_attrs.get("accuracy", {})
        rows.append(
            [
                str(trial.number),
                f"{trial.values[0]:.1f}%",
                *(f"{accuracy[name]:.0f}%" if name in accuracy else "-" for name in names),
                f"{trial.values[1]:.2f} s",
                params_text(trial),
            ]
        )
    return headers, rows


def summary(study: optuna.Study, url: str, ran: int | None = None) -> str:
    """``study 'NAME' in URL: 5 trials (3 complete, 1 pruned, 1 failed)`` and how many ran now."""
    states = Counter(trial.state.name.lower() for trial in study.get_trials(deepcopy=False))
    counts = [f"{states.get(state, 0)} {label}" for state, label in _STATES]
    counts += [f"{states[state]} {state}" for state in ("running", "waiting") if states.get(state)]
    total = sum(states.values())
    line = f"study {study.study_name!r} in {url}: {total} trial{'s' if total != 1 else ''} ({', '.join(counts)})"
    return line + (f"; {ran} ran now" if ran is not None else "")


_STATES = (("complete", "complete"), ("pruned", "pruned"), ("fail", "failed"))


def failures(study: optuna.Study) -> list[str]:
    """One line per failed trial: its number and error (a list of problems joined into the line)."""
    from optuna.trial import TrialState

    return [
        f"trial {trial.number} failed: " + " ".join(trial.user_attrs.get("error", "no error recorded").split())
        for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    ]


def write_plot(study: optuna.Study, path: str | os.PathLike[str], title: str) -> Path:
    """Quality against seconds a video: every completed trial, the Pareto front highlighted and joined (a staircase:
    each step is as good as one can get for that time), the baseline marked. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sora_core.atomic import atomic_path

    trials, front = completed(study), pareto_trials(study)
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    try:
        axes.scatter(
            [t.values[1] for t in trials], [t.values[0] for t in trials], s=22, color="#9aa5b1", label="trials"
        )
        ordered = sorted(front, key=lambda t: (t.values[1], -t.values[0]))
        xs, ys = [t.values[1] for t in ordered], [t.values[0] for t in ordered]
        axes.step(xs, ys, where="post", color="#d9822b", linewidth=1.5)
        axes.scatter(xs, ys, s=46, color="#d9822b", zorder=3, label="Pareto front")
        for trial in ordered:
            axes.annotate(
                f"#{trial.number}",
                (trial.values[1], trial.values[0]),
                textcoords="offset points",
                xytext=(5, 5),
                fontsize=8,
            )
        for trial in trials:
            if is_baseline(trial):
                axes.scatter(
                    [trial.values[1]],
                    [trial.values[0]],
                    s=140,
                    marker="*",
                    color="#2b6cb0",
                    zorder=4,
                    label=f"baseline (trial {trial.number})",
                )
        axes.set_xlabel("seconds per video (median)")
        axes.set_ylabel("quality (mean attribute accuracy, %)")
        axes.set_title(title, fontsize=10)
        axes.grid(True, alpha=0.3)
        axes.legend(loc="lower right", fontsize=8)
        figure.tight_layout()
        with atomic_path(path, suffix=".png") as temporary:
            figure.savefig(temporary, format="png")
    finally:
        plt.close(figure)
    return Path(path)
