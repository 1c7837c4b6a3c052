"""``--swap NODE=PARTICLE@WEIGHTS_DIR`` and ``--swap NODE=WEIGHTS_DIR``: a swapped node loaded from a folder.

The folder's particle is read from its ``config.json`` through the registry (never imported from the file's
text); every refusal is one ``error:`` line naming ``--swap`` and the folder or particle, and a hint.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

from sora_core import registry
from sora_core.cli.main import main
from sora_core.cli.pipeline_commands import build
from sora_core.errors import IncompatibleSwapError
from sora_core.pipeline import load_target, with_changes
from sora_core.registry import Registry
from sora_core.synthetic import write_plugin

SEED_INPUTS = ["--input", "text=randn:2,3,512", "--input", "video_features=randn:2,4,512"]


@pytest.fixture
def saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An additive attention with its own (seeded) weights saved as ``my-attention`` in the working directory."""
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(123)
    attention = registry.create("sora-seed:additive-attention")
    attention.save_pretrained("my-attention")
    return tmp_path / "my-attention"


def _args(*swaps: str, target: str = "seed") -> argparse.Namespace:
    return argparse.Namespace(target=target, swaps=list(swaps), settings=[], seed=None)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    left, right = a.state_dict(), b.state_dict()
    return left.keys() == right.keys() and all(torch.equal(left[k], right[k]) for k in left)


def _error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "\n  hint: " in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("form", ["my-attention", "./my-attention", "additive-attention@my-attention"])
def test_swap_loads_the_folder(saved: Path, form: str) -> None:
    pipe = build(_args(f"attention={form}"))
    reference = registry.load("sora-seed:additive-attention", weights=saved)
    assert pipe.nodes["attention"].registered_name == "sora-seed:additive-attention"
    assert _same_weights(pipe.nodes["attention"], reference)
    assert pipe.spec.nodes["attention"].weights == str(saved.resolve())  # absolute: read against the caller's folder


def test_swap_to_a_particle_name_is_still_fresh(saved: Path) -> None:
    pipe = build(_args("attention=sora-seed:additive-attention"))
    assert pipe.spec.nodes["attention"].weights is None
    assert not _same_weights(pipe.nodes["attention"], registry.load("additive-attention", weights=saved))


def test_run_graph_and_lock_take_a_weights_swap(saved: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "seed", *SEED_INPUTS, "--swap", "attention=my-attention", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outputs"]["video"]["shape"] == [2, 4, 512]
    assert main(["graph", "seed", "--swap", "attention=my-attention"]) == 0
    assert "additive-attention" in capsys.readouterr().out
    assert main(["lock", "seed", "-o", "seed.lock.json", "--swap", "attention=my-attention"]) == 0
    node = json.loads(Path("seed.lock.json").read_text())["nodes"]["attention"]
    assert node["weights"] is not None and "my-attention" in json.dumps(node["weights"])


def test_with_changes_carries_weights(saved: Path) -> None:
    spec, _ = load_target("seed", registry.default_registry)
    changed = with_changes(spec, registry.default_registry, swaps={"attention": {"weights": "my-attention"}})
    assert changed.nodes["attention"].particle == "sora-seed:additive-attention"
    assert changed.nodes["attention"].weights == str(saved.resolve())
    named = with_changes(
        spec, registry.default_registry, swaps={"attention": {"particle": "additive-attention", "weights": str(saved)}}
    )
    assert named.nodes["attention"].weights == str(saved.resolve())
    with pytest.raises(IncompatibleSwapError) as caught:
        with_changes(spec, registry.default_registry, swaps={"attention": {"weights": "missing"}})
    assert "missing" in caught.value.message and caught.value.hint


def test_a_folder_saved_by_another_particle_is_refused(saved: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(capsys, "graph", "seed", "--swap", "attention=sora-dit:multihead-cross-attention@my-attention")
    assert "saved by particle sora-seed:additive-attention" in err


@pytest.mark.parametrize(
    ("swap", "fragments"),
    [
        ("attention=nope", ["--swap attention=nope", "unknown particle 'nope'", "NODE=WEIGHTS_DIR"]),
        ("attention=./nope", ["--swap attention=./nope", "weights folder nope does not exist"]),
        ("attention=additive-attention@nope", ["weights folder nope does not exist", "@default"]),
        ("attention=@my-attention", ["needs both a particle and a folder"]),
        ("attention=additive-attention@", ["needs both a particle and a folder"]),
        ("attention=nope@my-attention", ["unknown particle 'nope'"]),
        ("attention", ["is not NODE=PARTICLE", "NODE=PARTICLE@WEIGHTS_DIR"]),
        ("generator=my-attention", ["node 'generator' is a video_generator", "cross_modal_attention"]),
    ],
)
def test_refusals_name_the_flag_and_folder(
    saved: Path, capsys: pytest.CaptureFixture[str], swap: str, fragments: list[str]
) -> None:
    err = _error(capsys, "graph", "seed", "--swap", swap)
    for fragment in fragments:
        assert fragment in err, err


def test_a_folder_without_a_particle_config(saved: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("empty").mkdir()
    err = _error(capsys, "graph", "seed", "--swap", "attention=./empty")
    assert "--swap attention=./empty" in err and "config.json does not exist" in err
    Path("odd").mkdir()
    (Path("odd") / "config.json").write_text(
        json.dumps({"particle": "os:system", "kind": "cross_modal_attention", "config": {}, "format": 1})
    )
    err = _error(capsys, "graph", "seed", "--swap", "attention=odd")
    assert "'os:system'" in err and "never imported" in err
    Path("library").mkdir()  # another library's folder (diffusers): its config names no particle
    (Path("library") / "config.json").write_text('{"_class_name": "AutoencoderKLWan"}')
    err = _error(capsys, "graph", "seed", "--swap", "attention=./library")
    assert "is not a particle config" in err
    assert "hint: name the particle that reads it: --swap attention=PARTICLE@./library" in err


def test_a_folder_naming_an_uninstalled_particle(saved: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = json.loads((saved / "config.json").read_text())
    (saved / "config.json").write_text(json.dumps({**config, "name": "gone-plugin:attention"}))
    err = _error(capsys, "graph", "seed", "--swap", "attention=my-attention")
    assert "'gone-plugin:attention', which is not installed" in err


def test_an_ambiguous_swap_name_says_use_the_full_name(
    plugin_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_plugin(plugin_root, "good-plugin", ["alpha"])
    write_plugin(plugin_root, "other-plugin", ["alpha"])
    monkeypatch.setattr(registry, "default_registry", Registry())
    err = _error(capsys, "graph", "seed", "--swap", "generator=alpha")
    assert "--swap generator=alpha" in err and "good-plugin:alpha and other-plugin:alpha" in err
    assert "use the full name `dist:name`" in err


def test_a_failed_swap_does_not_suggest_the_nodes_own_particle(capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(capsys, "graph", "t2v", "--swap", "text_encoder=sora-text:byte-transformer")
    assert "installed particles that would fit" in err
    assert "sora-dit:latent-sampler as sampler" not in err
    assert "sora-text:byte-transformer as text_encoder" not in err
    assert "node 'sampler' would fit with sora-dit:latent-sampler's default config (change its config)" in err


def test_caption_takes_a_weights_swap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("sora_understand", reason="v2t needs sora-understand")
    import numpy as np

    from sora_core.video_io import write_video

    monkeypatch.chdir(tmp_path)
    registry.load("sora-vae:causal-vae-encoder").save_pretrained("my-encoder")
    video = np.full((9, 64, 64, 3), 8, dtype=np.uint8)
    for t in range(9):
        video[t, 24:42, 6 + 3 * t : 24 + 3 * t] = (220, 40, 40)
    write_video(video, tmp_path / "red.mp4")
    assert main(["caption", "red.mp4"]) == 0
    expected = capsys.readouterr().out
    assert main(["caption", "red.mp4", "--swap", "encoder=my-encoder"]) == 0
    assert capsys.readouterr().out == expected  # the same weights, loaded from the folder
    assert main(["caption", "red.mp4", "--swap", "encoder=./missing"]) == 1
    assert "--swap encoder=./missing: weights folder missing does not exist" in capsys.readouterr().err


def test_a_folder_under_home(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(saved.parent))
    for form in ("attention=~/my-attention", "attention=additive-attention@~/my-attention"):
        pipe = build(_args(form))
        assert pipe.spec.nodes["attention"].weights == str(saved.resolve())
