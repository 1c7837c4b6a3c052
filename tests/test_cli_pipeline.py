"""``sora run`` and ``sora graph`` on the installed seed templates, through the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

SEED_INPUTS = ("--input", "text=randn:4,5,512", "--input", "video_features=randn:4,6,512")


def sora(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sora_core.cli.main", *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def assert_clean_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")
    assert "  hint: " in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_run_template_prints_outputs_and_trace(tmp_path: Path) -> None:
    trace = tmp_path / "trace.json"
    result = sora("run", "seed", *SEED_INPUTS, "--seed", "3", "--trace", "--trace-out", str(trace), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["outputs"]["video"]["shape"] == [4, 6, 512]
    assert report["trace"]["attention"]["output_shapes"]["tokens"] == [4, 6, 256]
    events = json.loads(trace.read_text())["traceEvents"]
    assert {e["name"] for e in events} == {"text_encoder", "video_decoder", "attention", "generator"}


def test_run_is_reproducible_and_saves_outputs(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    first, second = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    for path in (first, second):
        result = sora("run", "seed", *SEED_INPUTS, "--seed", "5", "--output", str(path))
        assert result.returncode == 0, result.stderr
    a, b = load_file(str(first)), load_file(str(second))
    assert a["video"].shape == (4, 6, 512)
    assert (a["video"] == b["video"]).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.safetensors", "b.safetensors"]  # no temp files left


def test_run_spec_file_with_a_swap(tmp_path: Path) -> None:
    spec = tmp_path / "seed.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "name": "seed-copy",
                "inputs": {"text": "text_encoder.token_embeddings", "video_features": "video_decoder.features"},
                "outputs": {"video": "generator.video"},
                "nodes": {
                    "text_encoder": {"particle": "lstm-text-encoder"},
                    "video_decoder": {"particle": "lstm-video-decoder"},
                    "attention": {"particle": "additive-attention"},
                    "generator": {"particle": "lstm-video-generator"},
                },
                "edges": [
                    "text_encoder.embeddings -> attention.context",
                    "video_decoder.hidden -> attention.query",
                    "attention.tokens -> generator.condition",
                ],
            }
        )
    )
    swapped = sora("run", str(spec), *SEED_INPUTS, "--swap", "attention=sora-seed:additive-attention", "--json")
    assert swapped.returncode == 0, swapped.stderr
    refused = sora("run", str(spec), *SEED_INPUTS, "--swap", "attention=lstm-video-generator")
    assert_clean_error(refused, "is a cross_modal_attention", "lstm-video-generator")


def test_seed_original_is_rejected_naming_the_edge() -> None:
    result = sora("run", "seed-original", *SEED_INPUTS)
    assert_clean_error(result, "video_decoder.hidden -> attention.query", "512", "256")


def test_bad_inputs_are_clear_errors() -> None:
    assert_clean_error(sora("run", "seed", "--input", "txt=randn:1,2,512"), "unknown input 'txt'", "video_features")
    assert_clean_error(sora("run", "seed", "--input", "text=randn:1,2,512"), "missing input 'video_features'")
    assert_clean_error(sora("run", "seed", "--input", "text=not-a-tensor"), "input 'text'", "randn:16,10,512")
    assert_clean_error(sora("run", "no-such-template"), "no installed plugin provides the pipeline template")
    assert_clean_error(  # a fixed size of the port (E=512) is checked before the run
        sora("run", "seed", "--input", "text=randn:2,5,384", "--input", "video_features=randn:2,5,512"),
        "input 'text'",
        "E=512",
    )
