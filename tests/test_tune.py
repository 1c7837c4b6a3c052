"""``sora tune``: search spaces (derived and declared), studies that resume, fail a trial and go on, prune, run in
two processes, and trials applied as a spec and lock that ``sora run --locked`` accepts.

Studies here run a small t2v (one 32x32 frame, few steps, one candidate) on two prompts, so a trial takes a
fraction of a second; nothing asserts on times, which another process on the machine can change.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from sora_core import registry
from sora_core.cli.main import main
from sora_core.errors import ConfigError, PipelineError
from sora_core.pipeline.pipeline import load_target, portable_spec, with_changes
from sora_core.tune.objective import checkpoints, prune_reason
from sora_core.tune.space import derive_space
from sora_core.tune.space_file import load_space_file

PROMPTS = "a red circle moving right\n# a comment line\na blue square moving up\na green triangle moving left\n"
SPACE = """\
pipeline: small.yaml
swaps: {scheduler: [rectified-flow-euler, sora-dit:rectified-flow-heun]}
settings:
  scheduler.steps: {int: [2, 3]}
"""


@pytest.fixture(scope="module")
def small_spec(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The t2v template at one 32x32 frame, 3 Euler steps and one candidate, as spec data."""
    spec, base_dir = load_target("t2v", registry.default_registry)
    settings = {"scheduler": {"steps": 3}, "sampler": {"candidates": 1, "frames": 1, "height": 32, "width": 32}}
    spec = with_changes(spec, registry.default_registry, settings=settings)
    return portable_spec(spec, base_dir).to_data()


@pytest.fixture
def work(tmp_path: Path, small_spec: dict, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding small.yaml, space.yaml and prompts.txt (tune.db and plots land here too)."""
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(small_spec, sort_keys=False))
    (tmp_path / "space.yaml").write_text(SPACE)
    (tmp_path / "prompts.txt").write_text(PROMPTS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tune(*args: str) -> int:
    return main(["tune", "small.yaml", "--prompts", "prompts.txt", "--limit", "2", *args])


def stored(name: str = "t2v") -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna.load_study(study_name=name, storage="sqlite:///tune.db")


# --- spaces ---------------------------------------------------------------------------------------------------


def test_the_space_derived_from_t2v_swaps_only_what_fits_and_ranges_sampling_settings() -> None:
    spec, base_dir = load_target("t2v", registry.default_registry)
    space = derive_space(spec, registry.default_registry, base_dir)
    swaps = {swap.node: swap for swap in space.swaps}
    assert list(swaps) == ["scheduler"]  # the only node with another particle that fits
    scheduler = swaps["scheduler"]
    assert scheduler.current == scheduler.choices[0] == "sora-dit:rectified-flow-euler"
    assert "sora-dit:rectified-flow-heun" in scheduler.choices
    assert "sora-diffusers:cogvideox-ddim" not in scheduler.choices  # v-prediction: does not fit a velocity denoiser
    ranges = {s.name: (s.kind, s.low, s.high, s.current) for s in space.settings}
    assert ranges == {
        "scheduler.steps": ("int", 4, 20, 20),
        "scheduler.shift": ("float", 1.0, 6.0, 3.0),
        "sampler.guidance_scale": ("float", 1.0, 8.0, 4.0),
        "sampler.candidates": ("int", 1, 4, 4),
        "sampler.compute_dtype": ("choices", None, None, "float32"),
    }  # not the sampler's frames/height/width; nothing of the nodes loaded from sora weights
    (precision,) = [s for s in space.settings if s.kind == "choices"]
    assert precision.choices == ("float32", "bfloat16")  # auto is one of these on any one machine
    assert space.baseline_params() == {"scheduler": scheduler.current, **{k: v[3] for k, v in ranges.items()}}
    assert any(
        "scheduler.shift is not set when scheduler runs sora-diffusers:flow-match-euler" in n for n in space.notes()
    )


def test_explain_prints_the_declared_space(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tune", "small.yaml", "--space", "space.yaml", "--explain", "--set", "scheduler.steps=2"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "",
        "search space of pipeline 't2v' (2 parameters):",
        "PARAMETER        KIND  CURRENT                        RANGE OR CHOICES",
        "scheduler        swap  sora-dit:rectified-flow-euler  "
        "sora-dit:rectified-flow-euler, sora-dit:rectified-flow-heun",
        "scheduler.steps  int   2                              2 to 3",  # the --set value
    ]


def load(work: Path, text: str):
    (work / "bad.yaml").write_text(text)
    spec, base_dir = load_target("small.yaml", registry.default_registry)
    return load_space_file(
        "bad.yaml", target="small.yaml", spec=spec, registry=registry.default_registry, base_dir=base_dir
    )


def test_every_bad_field_of_a_space_file_is_named_at_once(work: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(
            work,
            textwrap.dedent("""
                pipeline: t2v
                swaps:
                  scheduler: [rectified-flow-euler, sora-diffusers:cogvideox-ddim, rectified-flow-hen]
                  decoder: [causal-vae-decoder]
                  nope: [rectified-flow-heun]
                settings:
                  scheduler.steps: {int: [0, 20]}
                  sampler.candidates: {choices: [1, "two"]}
                  sampler.colour: {float: [0, 1]}
                  denoiser.depth: {int: [2, 4]}
                  steps: {int: [2, 4]}
            """),
        )
    message = caught.value.message
    assert message.startswith("space file bad.yaml is invalid (10 problems):")
    for expected in (
        "pipeline: the file is for 't2v', but 'small.yaml' is being tuned",
        "swaps.scheduler: sora-diffusers:cogvideox-ddim does not fit node 'scheduler': node 'sampler'",
        "swaps.scheduler: unknown particle 'rectified-flow-hen' (did you mean 'rectified-flow-heun'",
        "swaps.decoder: one particle is no choice: list two or more",
        "swaps.nope: pipeline 't2v' has no node 'nope'",
        "settings.scheduler.steps: 0 is outside the field's limits (>= 1, <= 10000)",
        "settings.sampler.candidates: 'two' is not of type integer",
        "settings.sampler.colour: sora-dit:latent-sampler has no config field 'colour'",
        "settings.denoiser.depth: node 'denoiser' loads sora-dit:dit-denoiser from weights 'default', so its config "
        "cannot change",
        "settings.steps: a setting is NODE.FIELD",
    ):
        assert expected in message, expected
    assert "docs/tuning.md" in caught.value.hint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("swaps: {scheduler: [rectified-flow-heun]}\nextra: 1\n", "extra: unknown field"),
        ("settings: {scheduler.steps: {int: [5, 2]}}\n", "settings.scheduler.steps: LOW (5) must be below HIGH (2)"),
        ("settings: {scheduler.steps: {int: [2, 5], choices: [3]}}\n", "give exactly one of int"),
        ("settings: {scheduler.steps: {ints: [2, 5]}}\n", "settings.scheduler.steps.ints: unknown field"),
        ("settings: {scheduler.steps: {int: [2.5, 5]}}\n", "settings.scheduler.steps.int.0"),
        ("settings: {scheduler.steps: {choices: [[1]]}}\n", "choices.0: must be a number, text or true/false"),
        ("swaps: [scheduler]\n", "swaps: Input should be a valid dictionary"),
        ("- a list\n", "must be a mapping"),
        ("swaps: {scheduler: [\n", "is not valid YAML"),
        ("{}\n", "the space is empty"),
    ],
)
def test_a_bad_space_file_is_refused_naming_the_field(work: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=r"bad\.yaml") as caught:
        load(work, text)
    assert expected in caught.value.message


def test_a_broken_pipeline_is_refused_before_its_space_is_read(work: Path) -> None:
    spec = yaml.safe_load((work / "small.yaml").read_text())
    spec["edges"] = spec["edges"][1:]
    (work / "small.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(PipelineError, match="pipeline 't2v' is invalid"):
        load(work, SPACE)


# --- runs -----------------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings(
    "ignore::sora_core.errors.SoraWarning"
)  # `sora run` of one 32x32 frame warns about its size
def test_a_study_is_stored_resumed_reported_and_applied(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tune("--space", "space.yaml", "--trials", "2") == 0
    out = capsys.readouterr().out
    assert "study 't2v' in sqlite:///tune.db: 2 trials (2 complete, 0 pruned, 0 failed); 2 ran now" in out
    assert "TRIAL  QUALITY  colour  shape  motion  count  S/VIDEO  PARAMS" in out
    assert out.endswith("wrote t2v-pareto.png\n") and (work / "t2v-pareto.png").read_bytes()[:4] == b"\x89PNG"
    study = stored()
    baseline = study.trials[0]
    assert baseline.user_attrs["baseline"] == ["scheduler", "scheduler.steps"]
    assert (baseline.params, baseline.user_attrs["swaps"], baseline.user_attrs["settings"]) == (
        {"scheduler": "sora-dit:rectified-flow-euler", "scheduler.steps": 3},
        {},
        {},
    )
    assert set(baseline.user_attrs["accuracy"]) == {"colour", "shape", "motion", "count"}
    assert baseline.values[0] == pytest.approx(sum(baseline.user_attrs["accuracy"].values()) / 4)

    assert tune("--space", "space.yaml", "--trials", "3") == 0  # resumed: one trial more
    assert "3 trials (3 complete, 0 pruned, 0 failed); 1 ran now" in capsys.readouterr().out
    assert len(stored().trials) == 3
    assert tune("--space", "space.yaml", "--trials", "3") == 0
    assert "; 0 ran now" in capsys.readouterr().out

    assert tune("--space", "space.yaml", "--seed", "7") == 1  # another setup is refused, not mixed in
    assert "study 't2v' in sqlite:///tune.db was run with another --seed" in capsys.readouterr().err

    assert main(["tune", "small.yaml", "--report", "--plot", "report.png"]) == 0
    report = capsys.readouterr().out
    assert report.startswith("study 't2v' in sqlite:///tune.db: 3 trials (3 complete") and "wrote report.png" in report

    trial = next(t for t in stored().trials if t.number > 0)
    assert main(["tune", "small.yaml", "--apply", str(trial.number), "-o", "fast.yaml"]) == 0
    assert capsys.readouterr().out.startswith(f"wrote fast.yaml (trial {trial.number}) and fast.lock.json")
    written = yaml.safe_load((work / "fast.yaml").read_text())
    assert written["nodes"]["scheduler"]["particle"] == trial.params["scheduler"]
    assert written["nodes"]["scheduler"]["config"]["steps"] == trial.params["scheduler.steps"]
    assert json.loads((work / "fast.lock.json").read_text())["pipeline"] == "t2v"
    run = ["run", "fast.yaml", "--locked", "fast.lock.json", "--input", "prompt=a red circle moving right"]
    assert main(run) == 0
    assert "video" in capsys.readouterr().out

    assert main(["tune", "small.yaml", "--apply", "99", "-o", "other.yaml"]) == 1
    err = capsys.readouterr().err
    assert (
        "error: study 't2v' has no trial 99 (trials 0 to 2)" in err
        and "hint: apply a completed trial; the Pareto front: " in err
    )
    assert not (work / "other.yaml").exists()


def test_a_failing_trial_is_recorded_and_the_study_goes_on(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "space.yaml").write_text("settings: {sampler.height: {choices: [30]}}\n")  # not a multiple of 8
    assert tune("--space", "space.yaml", "--trials", "3") == 0
    out = capsys.readouterr().out
    assert "3 trials (1 complete, 0 pruned, 2 failed); 3 ran now" in out
    assert "trial 1 failed: pipeline 't2v' is invalid (1 problem):" in out and "height" in out
    failed = stored().trials[1]
    assert failed.state == TrialState.FAIL and failed.params == {"sampler.height": 30}
    assert "must be a multiple of" in failed.user_attrs["error"]
    assert main(["tune", "small.yaml", "--apply", "1", "-o", "fast.yaml"]) == 1
    err = capsys.readouterr().err
    assert "error: trial 1 of study 't2v' failed: pipeline 't2v' is invalid" in err
    assert "the Pareto front: 0 (" in err


def test_checkpoints_are_the_quarters_of_the_prompts() -> None:
    assert checkpoints(2) == [1]
    assert checkpoints(8) == [2, 4, 6]
    assert checkpoints(10) == [3, 5, 8]
    assert checkpoints(1) == []


def test_the_pruning_rule_needs_a_faster_pareto_trial_ahead_by_more_than_the_margin() -> None:
    front = [(0, 90.0, 2.0), (3, 70.0, 0.5)]
    assert prune_reason(60.0, 1.0, front, 15.0) is None  # trial 0 is ahead, but slower
    reason = prune_reason(50.0, 1.0, front, 15.0)
    assert reason == (
        "trial 3 is as fast or faster (0.50 s against 1.00 s a video) and 20.0 points better "
        "(70.0% against 50.0%), more than the margin of 15"
    )
    assert prune_reason(56.0, 1.0, front, 15.0) is None  # ahead by 14 points only
    assert prune_reason(50.0, 3.0, front, 15.0).startswith("trial 0 is as fast or faster")  # the best one is named
    assert prune_reason(0.0, 9.0, front, 100.0) is None  # a margin of 100 never prunes


def test_a_hopeless_trial_is_pruned_after_a_quarter_of_the_prompts(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert tune("--space", "space.yaml", "--trials", "1") == 0  # the baseline
    # A completed trial no real one can approach: perfect and instant. One frame cannot show motion, so every
    # real trial's quality is at most 75%, more than 15 points behind.
    stored().add_trial(optuna.trial.create_trial(values=[100.0, 1e-6], params={}, distributions={}))
    capsys.readouterr()
    assert tune("--space", "space.yaml", "--trials", "3") == 0
    assert "3 trials (2 complete, 1 pruned, 0 failed); 1 ran now" in capsys.readouterr().out
    pruned = stored().trials[2]
    assert pruned.state == TrialState.PRUNED
    assert pruned.user_attrs["pruned"].startswith("after 1 of 2 prompts: trial 1 is as fast or faster")
    assert pruned.user_attrs["quality_so_far"] <= 75.0
    assert main(["tune", "small.yaml", "--apply", "2", "-o", "fast.yaml"]) == 1
    assert "error: trial 2 of study 't2v' pruned: after 1 of 2 prompts" in capsys.readouterr().err


def test_jobs_run_trials_in_separate_processes(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tune("--space", "space.yaml", "--trials", "3", "--jobs", "2", "--study", "parallel") == 0
    assert "study 'parallel' in sqlite:///tune.db: 3 trials (3 complete" in capsys.readouterr().out
    trials = stored("parallel").trials
    assert {t.user_attrs["worker"] for t in trials} == {0, 1}
    assert len({t.user_attrs["pid"] for t in trials}) == 2


def test_a_bad_prompt_file_is_one_error_line(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tune", "small.yaml", "--prompts", "missing.txt"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "error: --prompts missing.txt does not exist",
        "  hint: pass a UTF-8 text file with one prompt a line",
    ]
    assert not (work / "tune.db").exists()


def test_a_report_on_a_missing_database_creates_none(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tune", "small.yaml", "--report"]) == 1
    assert capsys.readouterr().err.startswith("error: --storage sqlite:///tune.db: tune.db does not exist")
    assert not (work / "tune.db").exists()
