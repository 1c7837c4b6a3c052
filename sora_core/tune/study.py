"""Studies of ``sora tune``: stored by Optuna (SQLite by default), resumed by name, run by local worker processes.

A study is created with its :class:`~sora_core.tune.objective.TuneSetup` stored as a study user attribute and the
baseline (the pipeline unchanged) enqueued as its first trial. A rerun with the same name checks that the setup is
the same (another pipeline, space, prompt set, seed or evaluator would make its trials incomparable) and runs only
the trials still missing from ``--trials``. With ``jobs`` above 1, that many ``spawn``-ed processes each call
``study.optimize`` on the shared storage, with the CPU cores shared out for torch; the parent shows progress by
reading the storage.
"""

from __future__ import annotations

import contextlib
import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sora_core.errors import ConfigError, SoraError
from sora_core.tune.errors import TuneError
from sora_core.tune.objective import PRUNE_MARGIN, Objective, TuneSetup

if TYPE_CHECKING:
    import optuna

#: Where studies are stored without ``--storage``: ``tune.db`` in the working directory.
DEFAULT_STORAGE = "sqlite:///tune.db"
#: The study user attribute holding the setup (:meth:`TuneSetup.to_data`).
SETUP_ATTR = "sora_tune"
#: The objectives, in the order of a trial's values.
DIRECTIONS = ("maximize", "minimize")
#: How often the parent of worker processes reads the storage for finished trials.
POLL_SECONDS = 0.5
#: How long workers get to record their running trials as failed after Ctrl-C, before they are terminated.
INTERRUPT_GRACE_SECONDS = 10.0
_SQLITE = "sqlite:///"


@dataclass(frozen=True)
class RunOptions:
    """How to run a study: ``trials`` in all (the study's finished trials count), on ``jobs`` processes."""

    trials: int
    jobs: int = 1
    prune_margin: float = PRUNE_MARGIN
    show_progress: bool | None = None


def quiet_optuna() -> None:
    """Optuna's own log lines off (a line per trial, a traceback per failed one): the command reports instead."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)


def open_storage(url: str, *, existing: bool) -> optuna.storages.RDBStorage:
    """Optuna's storage at ``url``; with ``existing``, an SQLite file must already be there (reading a study must
    not create an empty database)."""
    import optuna

    hint = "give an SQLAlchemy database URL, such as sqlite:///tune.db (a file in the working directory)"
    connect: dict[str, Any] = {}
    if url.startswith(_SQLITE):
        path = Path(url[len(_SQLITE) :])
        if existing and not path.is_file():
            raise TuneError(
                f"--storage {url}: {path} does not exist, so it holds no study",
                "run the study first (sora tune TARGET --prompts FILE), or name the database it is in with --storage",
            )
        if not path.parent.is_dir():
            raise ConfigError(f"--storage {url}: folder {path.parent} does not exist", "create it, or store elsewhere")
        connect = {"connect_args": {"timeout": 60}}  # worker processes share the file: wait for its lock
    elif "://" not in url:
        raise ConfigError(f"--storage {url!r} is not a database URL", hint)
    quiet_optuna()
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=connect)
    except Exception as exc:  # SQLAlchemy's errors, a missing driver, a file that is no database
        raise ConfigError(f"--storage {url}: cannot open it: {exc}", hint) from None


def start_study(url: str, name: str, setup: TuneSetup) -> optuna.Study:
    """Study ``name`` in ``url``: created with ``setup`` and the baseline enqueued, or resumed when its setup is
    the same (otherwise a ``TuneError`` naming what differs)."""
    import optuna

    storage = open_storage(url, existing=False)
    study = optuna.create_study(storage=storage, study_name=name, directions=list(DIRECTIONS), load_if_exists=True)
    stored = study.user_attrs.get(SETUP_ATTR)
    if stored is None:
        if study.trials:
            raise TuneError(f"study {name!r} in {url} was not made by sora tune", "name another study with --study")
        study.set_user_attr(SETUP_ATTR, setup.to_data())
        params = setup.search_space().baseline_params()
        study.enqueue_trial(params, user_attrs={"baseline": list(params)})
        return study
    differences = [what for what, key in _COMPARED if stored.get(key) != setup.to_data().get(key)]
    if differences:
        raise TuneError(
            f"study {name!r} in {url} was run with another {', '.join(differences)}: its trials would not compare",
            "rerun with the same pipeline, --space, --prompts, --limit, --seed, --set, --frames/--height/--width and "
            "--evaluator, or start another study with --study NAME",
        )
    return study


#: What must match for a study to be resumed: (how it is named in the error, the setup's key).
_COMPARED = (
    ("pipeline", "target"),
    ("pipeline spec (or --set/--frames/--height/--width)", "spec"),
    ("search space", "space"),
    ("prompt set (or --limit)", "prompts"),
    ("--seed", "seed"),
    ("evaluator", "evaluator"),
)


def stored_study(url: str, name: str) -> tuple[optuna.Study, TuneSetup]:
    """Study ``name`` as stored in ``url`` and its setup, for a report or ``--apply``."""
    import optuna

    storage = open_storage(url, existing=True)
    names = optuna.get_all_study_names(storage)
    if name not in names:
        raise TuneError(
            f"no study {name!r} in {url}",
            ("studies there: " + ", ".join(sorted(names)))
            if names
            else "run it first: sora tune TARGET --prompts FILE",
        )
    study = optuna.load_study(study_name=name, storage=storage)
    data = study.user_attrs.get(SETUP_ATTR)
    if data is None:
        raise TuneError(f"study {name!r} in {url} was not made by sora tune", "name one that was, with --study")
    return study, TuneSetup.from_data(data)


def finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The trials that ran to an end: complete, pruned or failed."""
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))


def best_label(study: optuna.Study, most: int = 3) -> str:
    """The best points so far, highest quality first: ``best: 86.2% @ 1.3 s, 80.1% @ 0.6 s``."""
    front = sorted(study.best_trials, key=lambda t: (-t.values[0], t.values[1]))[:most]
    return ("best: " + ", ".join(f"{t.values[0]:.1f}% @ {t.values[1]:.2g} s" for t in front)) if front else ""


def run_study(url: str, name: str, setup: TuneSetup, options: RunOptions) -> tuple[optuna.Study, int]:
    """Run study ``name`` up to ``options.trials`` finished trials; returns it and how many trials ran now."""
    from sora_core import progress

    study = start_study(url, name, setup)
    missing = max(0, options.trials - len(finished(study)))
    if missing == 0:
        return study, 0
    jobs = max(1, min(options.jobs, missing))
    seed = sampler_seed(setup.seed, len(study.trials), 0)
    with progress.steps(missing, f"tune {name}", show=options.show_progress) as advance:
        if jobs == 1:
            _run_here(study, setup, options, missing, seed, advance)
        else:
            _run_workers(study, url, setup, options, missing, jobs, advance)
    return study, missing


def sampler_seed(seed: int, trials_before: int, worker: int) -> int:
    """The sampler's seed: another one for each worker and for each resumption, so none repeats another's draws."""
    return (seed * 1_000_003 + trials_before * 1009 + worker) % 2**32


def _run_here(
    study: optuna.Study,
    setup: TuneSetup,
    options: RunOptions,
    missing: int,
    seed: int,
    advance: Callable[[str], None],
) -> None:
    import optuna

    from sora_core import registry

    study.sampler = optuna.samplers.TPESampler(seed=seed)
    objective = Objective(setup, registry.default_registry, prune_margin=options.prune_margin)
    study.optimize(
        objective, n_trials=missing, catch=(Exception,), callbacks=[lambda study, trial: advance(best_label(study))]
    )


def _run_workers(
    study: optuna.Study,
    url: str,
    setup: TuneSetup,
    options: RunOptions,
    missing: int,
    jobs: int,
    advance: Callable[[str], None],
) -> None:
    import multiprocessing

    from sora_core.batch import worker_threads

    context = multiprocessing.get_context("spawn")
    errors = context.Queue()
    # Enqueued trials (the baseline) are taken by worker 0 alone: two processes popping the same waiting trial from
    # SQLite can both claim it, and the second to finish it fails. The others start once none is waiting.
    go = context.Event()
    trials_before = len(study.trials)
    workers = []
    for index in range(jobs):
        config = {
            "url": url,
            "study": study.study_name,
            "setup": setup.to_data(),
            "trials": missing // jobs + (index < missing % jobs),
            "prune_margin": options.prune_margin,
            "worker": index,
            "threads": worker_threads(jobs),
            "seed": sampler_seed(setup.seed, trials_before, index),
        }
        process = context.Process(target=_worker, args=(config, errors, go), daemon=True)
        process.start()
        workers.append(process)
    shown = len(finished(study))
    try:
        while True:
            running = any(process.is_alive() for process in workers)
            if not go.is_set() and (not waiting(study) or not workers[0].is_alive()):
                go.set()
            now = len(finished(study))
            for _ in range(shown, now):
                advance(best_label(study))
            shown = now
            if not running:
                break
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        _stop(workers)
        raise
    for process in workers:
        process.join()
    with contextlib.suppress(queue.Empty):
        message, hint = errors.get(timeout=0.1)
        raise TuneError(message, hint)


def _stop(workers: list[Any]) -> None:
    """After Ctrl-C (which the workers get too, failing their running trials): wait a little, then end them."""
    deadline = time.monotonic() + INTERRUPT_GRACE_SECONDS
    for process in workers:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.terminate()
            process.join()


def waiting(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The enqueued trials no process has taken yet."""
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.WAITING,))


def _worker(config: dict[str, Any], errors: Any, go: Any) -> None:
    """A worker process: its share of the trials, on the shared storage; a failure outside a trial is sent back.
    Workers other than the first wait for ``go`` (no enqueued trial left waiting) before their first trial."""
    try:
        import optuna
        import torch

        from sora_core import progress, registry

        torch.set_num_threads(config["threads"])
        storage = open_storage(config["url"], existing=True)
        sampler = optuna.samplers.TPESampler(seed=config["seed"])
        study = optuna.load_study(study_name=config["study"], storage=storage, sampler=sampler)
        setup = TuneSetup.from_data(config["setup"])
        objective = Objective(
            setup, registry.default_registry, prune_margin=config["prune_margin"], worker=config["worker"]
        )
        if config["worker"]:
            go.wait()
        with progress.quiet():
            study.optimize(objective, n_trials=config["trials"], catch=(Exception,))
    except KeyboardInterrupt:
        pass  # the parent was interrupted too and says so
    except SoraError as exc:
        errors.put((f"worker {config['worker']} (pid {os.getpid()}): {exc.message}", exc.hint))
    except Exception as exc:
        errors.put(
            (
                f"worker {config['worker']} (pid {os.getpid()}) failed: {type(exc).__name__}: {exc}",
                "this is a bug in sora tune; rerun with --jobs 1 and SORA_DEBUG=1 for the traceback",
            )
        )
