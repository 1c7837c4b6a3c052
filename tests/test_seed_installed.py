"""Integration: the sora-seed plugin as installed by `make setup`, seen through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

SEED = {
    "sora-seed:lstm-text-encoder": "text_encoder",
    "sora-seed:lstm-video-decoder": "video_feature_decoder",
    "sora-seed:additive-attention": "cross_modal_attention",
    "sora-seed:lstm-video-generator": "video_generator",
}


def sora(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sora_core.cli.main", *args], capture_output=True, text=True, timeout=300
    )


def test_list_json_shows_seed_particles_with_kind_ports_and_distribution() -> None:
    result = sora("list", "sora-seed:*", "--json")
    assert result.returncode == 0, result.stderr
    particles = {p["name"]: p for p in json.loads(result.stdout)["particles"]}
    assert {name: p["kind"] for name, p in particles.items()} == SEED
    for particle in particles.values():
        assert particle["distribution"] == "sora-seed"
        assert particle["inputs"] and particle["outputs"]
    attention = particles["sora-seed:additive-attention"]
    query = attention["inputs"]["query"]
    assert (query["dtype"], query["shape"]) == ("float32", "B T Q=256")


def test_seed_manifest_is_current_and_doctor_is_happy() -> None:
    check = sora("manifest", "sora-seed", "--check")
    assert check.returncode == 0, check.stderr
    doctor = json.loads(sora("doctor", "--json").stdout)
    assert [p for p in doctor["problems"] if p["plugin"] == "sora-seed"] == []


def test_seed_kind_is_contributed_through_the_manifest() -> None:
    result = sora("info", "lstm-video-decoder", "--json")
    assert json.loads(result.stdout)["kind"] == "video_feature_decoder"
