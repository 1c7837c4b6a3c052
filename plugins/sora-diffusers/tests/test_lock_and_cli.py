"""``sora import``, ``sora lock`` / ``sora run --locked`` and ``sora generate --model`` on a diffusers folder.

The commands run in-process through ``sora_core.cli.main.main`` (stderr captured), except one error case run
as a real ``sora`` process to show the exit code and the absence of a traceback. The tiny Wan folder is written
here; a test that changes files works on its own copy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from safetensors.torch import load_file
from sora_diffusers.tiny import write_tiny_folder

from sora_core import registry
from sora_core.cli.main import main
from sora_core.cli.pipeline_commands import build
from sora_core.importers import find_importer, import_spec

#: The smallest run of the tiny Wan folder, as --set flags (9 frames = 3 latent frames, 16x16 pixels).
SMALL = [
    "--set",
    "sampler.frames=9",
    "--set",
    "sampler.height=16",
    "--set",
    "sampler.width=16",
    "--set",
    "scheduler.steps=2",
]
PROMPT = ["--input", 'prompt=["a red ball"]']
#: The files each component's particle reads from the tiny Wan folder (what a lock must hash).
LOADED_FILES = {
    "tokenizer": ("tokenizer", ["tokenizer.json", "tokenizer_config.json"]),
    "text_encoder": ("text_encoder", ["config.json", "model.safetensors"]),
    "transformer": ("transformer", ["config.json", "diffusion_pytorch_model.safetensors"]),
    "scheduler": ("scheduler", ["scheduler_config.json"]),
    "decoder": ("vae", ["config.json", "diffusion_pytorch_model.safetensors"]),
}
GENERATE_SMALL = ["--frames", "9", "--height", "16", "--width", "16", "--steps", "2"]


def sora(capsys: pytest.CaptureFixture[str], *args: str | os.PathLike[str]) -> tuple[int, str, str]:
    """``sora ARGS`` in this process: exit code, stdout, stderr."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exit:  # argparse
        code = int(exit.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_error(stderr: str, *fragments: str) -> None:
    """One ``error:`` line and one ``hint:`` line, no traceback, and every fragment somewhere in them."""
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 2, stderr
    assert lines[0].startswith("error: ") and lines[1].startswith("  hint: "), stderr
    for fragment in fragments:
        assert fragment in stderr, (fragment, stderr)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def wan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_folder("wan", tmp_path_factory.mktemp("wan") / "tiny-wan")


@pytest.fixture
def own_wan(wan: Path, tmp_path: Path) -> Path:
    """A copy of the tiny Wan folder this test may change."""
    return Path(shutil.copytree(wan, tmp_path / "tiny-wan"))


def imported(folder: Path, spec: Path) -> Path:
    """``spec``, written from ``folder`` by the diffusers importer (Python API; the CLI is tested on its own)."""
    data = import_spec(find_importer("diffusers", registry.default_registry), folder).to_data()
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    return spec


# --- sora import ------------------------------------------------------------------------------------------------


def test_import_writes_a_spec_that_graph_and_run_accept(
    wan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "wan.yaml"
    code, _, err = sora(capsys, "import", "diffusers", wan, "-o", spec)
    assert code == 0, err
    assert f"{spec}: pipeline 'wan-tiny-wan' with 7 nodes from {wan}" in err
    data = yaml.safe_load(spec.read_text())
    assert data["nodes"]["decoder"] == {"particle": "sora-diffusers:wan-vae-decoder", "weights": str(wan / "vae")}
    assert data["nodes"]["transformer"]["weights"] == str(wan / "transformer")

    code, out, err = sora(capsys, "graph", spec)
    assert code == 0, err
    for node in ("prompts", "tokenizer", "text_encoder", "sampler", "decoder"):
        assert node in out

    saved = tmp_path / "out.safetensors"
    code, _, err = sora(capsys, "run", spec, *PROMPT, *SMALL, "--output", saved)
    assert code == 0, err
    video = load_file(str(saved))["video"]
    assert video.shape == (1, 3, 9, 16, 16) and bool(torch.isfinite(video).all())

    as_json = tmp_path / "wan.json"
    assert sora(capsys, "import", "diffusers", wan, "-o", as_json)[0] == 0
    assert json.loads(as_json.read_text()) == data


def test_import_reads_only_json_no_torch_diffusers_or_transformers(wan: Path, tmp_path: Path) -> None:
    """A real ``sora import`` process: the importer reads the folder's JSON files and imports no model library."""
    code = (
        "import sys\n"
        "from sora_core.cli.main import main\n"
        "code = main(sys.argv[1:])\n"
        "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'safetensors') if m in sys.modules))\n"
        "sys.exit(code)\n"
    )
    spec = tmp_path / "wan.yaml"
    result = subprocess.run(
        [sys.executable, "-c", code, "import", "diffusers", str(wan), "-o", str(spec)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert yaml.safe_load(spec.read_text())["name"] == "wan-tiny-wan"


def test_import_of_an_unknown_format_lists_the_importers(
    wan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = sora(capsys, "import", "nope", wan, "-o", tmp_path / "x.yaml")
    assert code == 1
    assert_one_error(err, "no installed plugin imports 'nope' folders", "importers installed: diffusers")
    assert not (tmp_path / "x.yaml").exists()


def test_import_of_a_broken_folder_names_the_subfolder(
    own_wan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(own_wan / "scheduler")
    code, _, err = sora(capsys, "import", "diffusers", own_wan, "-o", tmp_path / "x.yaml")
    assert code == 1
    assert_one_error(err, f"{own_wan / 'scheduler'} is missing", "UniPCMultistepScheduler")
    assert not (tmp_path / "x.yaml").exists()


# --- sora lock and sora run --locked ------------------------------------------------------------------------------


def test_lock_hashes_every_file_each_component_loads_and_a_locked_run_passes(
    wan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = imported(wan, tmp_path / "wan.yaml")
    lock = tmp_path / "wan.lock.json"
    code, _, err = sora(capsys, "lock", spec, *SMALL, "-o", lock)
    assert code == 0, err
    nodes = json.loads(lock.read_text())["nodes"]
    for node, (subfolder, names) in LOADED_FILES.items():
        assert nodes[node]["weights"] == str(wan / subfolder)
        assert nodes[node]["files"] == {name: sha256(wan / subfolder / name) for name in names}, node
    for node in ("prompts", "sampler"):  # nodes without weights
        assert nodes[node]["files"] == {}
    assert nodes["sampler"]["config"]["frames"] == 9

    code, _, err = sora(capsys, "run", spec, "--locked", lock, *PROMPT, *SMALL)
    assert code == 0, err


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01  # inside the last tensor: the file still loads, its hash does not match
    path.write_bytes(bytes(data))


def _shift_scheduler(path: Path) -> None:
    config = json.loads(path.read_text())
    config["flow_shift"] = config["flow_shift"] + 2.0
    path.write_text(json.dumps(config))


@pytest.mark.parametrize(
    ("node", "changed", "change"),
    [
        ("decoder", "vae/diffusion_pytorch_model.safetensors", _flip_last_byte),
        ("scheduler", "scheduler/scheduler_config.json", _shift_scheduler),
    ],
)
def test_a_changed_file_of_a_locked_folder_is_refused_naming_it(
    own_wan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], node: str, changed: str, change: Any
) -> None:
    spec = imported(own_wan, tmp_path / "wan.yaml")
    lock = tmp_path / "wan.lock.json"
    assert sora(capsys, "lock", spec, *SMALL, "-o", lock)[0] == 0
    before = sha256(own_wan / changed)
    change(own_wan / changed)
    code, _, err = sora(capsys, "run", spec, "--locked", lock, *PROMPT, *SMALL)
    assert code == 1
    assert "Traceback" not in err
    name = Path(changed).name
    assert f"does not match lock file {lock}" in err
    assert f"node {node!r}: weight file {name} sha256 changed (locked {before[:12]}..." in err
    # the other component holding a file of the same name is not blamed
    assert f"node 'transformer': weight file {name}" not in err


# --- sora generate --model ------------------------------------------------------------------------------------------


def test_generate_from_a_model_folder_writes_the_video(
    wan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sora_core.video_io import read_video

    video = tmp_path / "out.mp4"
    code, _, err = sora(capsys, "generate", "--model", wan, "a red ball", "-o", video, *GENERATE_SMALL)
    assert code == 0, err
    assert f"{video}: 9 frames of 16x16 from 'a red ball'" in err
    assert read_video(video).shape == (9, 16, 16, 3)


def test_generate_from_a_path_that_is_not_a_folder_is_one_error_line(tmp_path: Path) -> None:
    """A real ``sora`` process: exit status 1, an error and a hint, no traceback."""
    code = "import sys\nfrom sora_core.cli.main import main\nsys.exit(main(sys.argv[1:]))\n"
    result = subprocess.run(
        [sys.executable, "-c", code, "generate", "--model", "/not/a/dir", "a red ball", "-o", "never.mp4"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert_one_error(result.stderr, "error: /not/a/dir is not a folder")
    assert not (tmp_path / "never.mp4").exists()


def test_generate_from_a_folder_without_model_index_names_it(
    wan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = sora(capsys, "generate", "--model", wan / "vae", "a red ball", "-o", tmp_path / "out.mp4")
    assert code == 1
    assert_one_error(
        err, f"{wan / 'vae'} is not a model folder any installed importer reads", "importers installed: diffusers"
    )
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: --device cuda would run")
def test_generate_on_a_device_this_machine_lacks_is_refused(
    wan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["generate", "--model", wan, "a red ball", "-o", tmp_path / "out.mp4", "--device", "cuda"]
    code, _, err = sora(capsys, *args, *GENERATE_SMALL)
    assert code == 1
    assert_one_error(err, "--device 'cuda'", "no such device")
    assert not (tmp_path / "out.mp4").exists()


def test_generate_in_bfloat16_keeps_the_vae_in_float32(
    wan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = tmp_path / "out.mp4"
    args = ["generate", "--model", wan, "a red ball", "-o", video, "--dtype", "bfloat16", *GENERATE_SMALL]
    code, _, err = sora(capsys, *args)
    assert code == 0, err
    assert video.stat().st_size > 0

    # the pipeline generate builds for the same flags
    spec = import_spec(find_importer("diffusers", registry.default_registry), wan)
    namespace = argparse.Namespace(target=None, swaps=[], settings=[], seed=0)
    pipe = build(namespace, spec=spec, placement=(None, "bfloat16"))
    dtypes = {
        name: {p.dtype for p in pipe.nodes[name].parameters()} for name in ("text_encoder", "transformer", "decoder")
    }
    assert dtypes["decoder"] == {torch.float32}
    assert pipe.spec.nodes["decoder"].dtype is None
    assert torch.bfloat16 in dtypes["transformer"] and torch.bfloat16 in dtypes["text_encoder"]
