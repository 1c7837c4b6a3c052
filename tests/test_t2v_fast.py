"""The t2v-fast template (`sora generate --fast`): t2v with the sampling settings the t2v study of `sora tune` chose."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sora_core import registry
from sora_core.pipeline.pipeline import template_spec

TUNED = {
    "scheduler": {"shift": 2.0, "steps": 10},
    "sampler": {"guidance_scale": 3.5, "candidates": 2, "compute_dtype": "auto"},
}


def test_t2v_fast_is_t2v_with_the_tuned_sampling_settings_only() -> None:
    fast, _ = template_spec("t2v-fast", registry.default_registry)
    base, _ = template_spec("t2v", registry.default_registry)
    assert fast.edges == base.edges and fast.inputs == base.inputs and fast.outputs == base.outputs
    assert set(fast.nodes) == set(base.nodes)
    for name, node in fast.nodes.items():
        expected = base.nodes[name].config | TUNED.get(name, {})
        assert node.config == expected, name
        assert node.model_copy(update={"config": {}}) == base.nodes[name].model_copy(update={"config": {}}), name


def test_sora_generate_fast_runs_the_fast_template(tmp_path: Path) -> None:
    out = tmp_path / "fast.mp4"
    result = subprocess.run(
        [sys.executable, "-m", "sora_core.cli.main", "generate", "a blue square moving left", "--fast", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 0 and "9 frames of 64x64" in result.stdout + result.stderr
    both = subprocess.run(
        [sys.executable, "-m", "sora_core.cli.main", "generate", "x", "--fast", "--template", "t2v", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
