"""The ``sora`` command: output modes, no torch on the listing path, one clear line per error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sora_core.synthetic import write_plugin


def run_sora(*args: str, root: Path | None = None, check_torch: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``sora ARGS`` in a fresh interpreter with ``root`` on the path."""
    env = dict(os.environ)
    if root is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    code = (
        "import sys\n"
        "from sora_core.cli.main import main\n"
        "try:\n"
        "    code = main(sys.argv[1:])\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        "if 'torch' in sys.modules:\n"
        "    sys.stderr.write('TORCH WAS IMPORTED')\n"
        "sys.exit(code)\n"
    )
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)


def assert_clean_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line and "TORCH WAS IMPORTED" not in line]
    assert lines[0].startswith("error: ")
    assert lines[1].startswith("  hint: ")
    assert len(lines) == 2, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


@pytest.fixture
def site(plugin_root: Path) -> Path:
    write_plugin(plugin_root, "good-plugin", ["alpha", "beta"])
    write_plugin(plugin_root, "other-plugin", ["alpha"])
    write_plugin(plugin_root, "bad-plugin", ["gamma"], import_error="boom at import")
    return plugin_root


@pytest.mark.parametrize(
    "args", [("--help",), ("list",), ("list", "--json"), ("info", "beta"), ("info", "beta", "--json")]
)
def test_help_list_and_info_do_not_import_torch(site: Path, args: tuple[str, ...]) -> None:
    result = run_sora(*args, root=site)
    assert result.returncode == 0, result.stderr
    assert "TORCH WAS IMPORTED" not in result.stderr


def test_version() -> None:
    result = run_sora("--version")
    assert result.returncode == 0 and result.stdout.startswith("sora-core ")


def test_list_json_has_kind_ports_and_distribution(site: Path) -> None:
    data = json.loads(run_sora("list", "--json", root=site).stdout)
    beta = next(p for p in data["particles"] if p["name"] == "good-plugin:beta")
    assert beta["kind"] == "video_generator"
    assert beta["distribution"] == "good-plugin" and beta["version"] == "1.0.0"
    assert beta["inputs"] == {"condition": {"dtype": "float32", "shape": "B T C=8"}}
    assert data["problems"] == []


def test_list_plain_when_piped(site: Path) -> None:
    result = run_sora("list", "*-plugin:*", "--kind", "video_*", root=site)
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "INPUTS", "OUTPUTS", "DESCRIPTION"]
    assert [line.split()[0] for line in lines[1:]] == [
        "bad-plugin:gamma",
        "good-plugin:alpha",
        "good-plugin:beta",
        "other-plugin:alpha",
    ]
    assert not any(ch in result.stdout for ch in "┃│━")


def test_list_warns_about_broken_plugins_on_stderr(plugin_root: Path) -> None:
    write_plugin(plugin_root, "no-manifest", ["delta"], manifest=False)
    result = run_sora("list", root=plugin_root)
    assert result.returncode == 0
    assert "warning: no-manifest is broken" in result.stderr and "sora doctor" in result.stderr


def test_info_describes_ports_and_config(site: Path) -> None:
    result = run_sora("info", "good-plugin:beta", root=site)
    assert result.returncode == 0
    assert "video_generator" in result.stdout and "B T C=8" in result.stdout and "size" in result.stdout


def test_unknown_name(site: Path) -> None:
    assert_clean_error(run_sora("info", "betta", root=site), "unknown particle 'betta'", "did you mean 'beta'")


def test_ambiguous_name(site: Path) -> None:
    assert_clean_error(run_sora("info", "alpha", root=site), "good-plugin:alpha and other-plugin:alpha")


def test_broken_plugin(site: Path) -> None:
    assert_clean_error(run_sora("load", "gamma", root=site), "plugin 'bad-plugin' is broken", "boom at import")


def test_invalid_config_value(site: Path) -> None:
    result = run_sora("load", "beta", "--set", "size=large", root=site)
    assert_clean_error(result, "good-plugin:beta", "field 'size' = 'large'")


def test_load_fresh_particle_summary(site: Path) -> None:
    result = run_sora("load", "beta", "--set", "size=4", "--json", root=site)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["parameters"] == 4 * 4 + 4 and summary["config"] == {"size": 4}


def test_doctor_reports_broken_plugin_and_exits_non_zero(site: Path) -> None:
    result = run_sora("doctor", "--json", root=site)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    reasons = {(p["plugin"], p["particle"]): p["reason"] for p in report["problems"]}
    assert "boom at import" in reasons[("bad-plugin", "gamma")]
    assert report["collisions"] == {"alpha": ["good-plugin:alpha", "other-plugin:alpha"]}


# --- weight files offered to `sora load --weights` -------------------------------------


@pytest.fixture
def saved(site: Path, tmp_path: Path, make_registry) -> Path:
    """good-plugin:beta saved with its default config (size 8)."""
    directory = tmp_path / "beta-weights"
    make_registry().create("good-plugin:beta").save_pretrained(directory)
    return directory


def _rewrite(directory: Path, tensors: dict) -> None:
    """Replace the weights and re-sign the manifest, so only the tensor check can object."""
    from safetensors.torch import save_file

    from sora_core.safetensors_io import write_manifest

    save_file(tensors, str(directory / "model.safetensors"))
    write_manifest(directory)


def test_load_verified_weights(site: Path, saved: Path) -> None:
    result = run_sora("load", "beta", "--weights", str(saved), "--json", root=site)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["weights"] == str(saved)


def test_flipped_byte_is_a_hash_mismatch(site: Path, saved: Path) -> None:
    weights = saved / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert_clean_error(run_sora("load", "beta", "--weights", str(saved), root=site), "model.safetensors", "sha256")


def test_truncated_weights_are_corrupt(site: Path, saved: Path) -> None:
    weights = saved / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:40])
    from sora_core.safetensors_io import write_manifest

    write_manifest(saved)
    assert_clean_error(run_sora("load", "beta", "--weights", str(saved), root=site), "model.safetensors")


def test_tensor_shape_mismatch(site: Path, saved: Path) -> None:
    import torch

    _rewrite(saved, {"proj.weight": torch.zeros(4, 4), "proj.bias": torch.zeros(4)})
    result = run_sora("load", "beta", "--weights", str(saved), root=site)
    assert_clean_error(result, "'proj.weight'", "(4, 4)", "(8, 8)")


def test_tensor_dtype_mismatch(site: Path, saved: Path) -> None:
    import torch

    _rewrite(saved, {"proj.weight": torch.zeros(8, 8, dtype=torch.float16), "proj.bias": torch.zeros(8)})
    assert_clean_error(run_sora("load", "beta", "--weights", str(saved), root=site), "'proj.weight'", "float16")


def test_pickle_offered_as_weights(site: Path, tmp_path: Path) -> None:
    import pickle

    directory = tmp_path / "pickled"
    directory.mkdir()
    (directory / "pytorch_model.bin").write_bytes(pickle.dumps({"proj.weight": [0.0] * 64}))
    result = run_sora("load", "beta", "--weights", str(directory), root=site)
    assert_clean_error(result, "pytorch_model.bin", "safetensors")


def test_list_draws_a_table_on_a_terminal(site: Path) -> None:
    import pty

    controller, terminal = pty.openpty()
    env = dict(os.environ, PYTHONPATH=str(site), COLUMNS="160")
    code = "import sys; from sora_core.cli.main import main; sys.exit(main(['list', 'good-plugin:*']))"
    process = subprocess.Popen([sys.executable, "-c", code], stdout=terminal, stderr=subprocess.PIPE, env=env)
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closes when the process exits
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert process.wait(timeout=60) == 0
    text = output.decode("utf-8", "replace")
    assert "2 particles" in text and "good-plugin:alpha" in text
    assert "┃" in text or "│" in text  # rich drew a table
