"""``sora info`` shows the ports of the config a particle's default weights load (the t2v denoiser reads
``D=384`` MiniLM text, its default config ``D=256``), recorded in the manifest by ``sora manifest --write`` so
that ``sora info`` stays torch-free."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sora_core import registry
from sora_core.cli.main import main
from sora_core.registry import Registry
from sora_core.synthetic import write_plugin

DENOISER = "sora-dit:dit-denoiser"


def _sora(*args: str, root: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``sora ARGS`` in a fresh interpreter that reports whether torch was imported."""
    code = (
        "import sys\nfrom sora_core.cli.main import main\ncode = main(sys.argv[1:])\n"
        "sys.stderr.write('TORCH WAS IMPORTED' if 'torch' in sys.modules else '')\nsys.exit(code)\n"
    )
    env = dict(os.environ)
    if root is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, env=env)


def test_info_shows_the_ports_its_default_weights_load_without_torch() -> None:
    result = _sora("info", DENOISER)
    assert result.returncode == 0, result.stderr
    assert "TORCH WAS IMPORTED" not in result.stderr
    text = result.stdout
    weights_part = text.split("inputs (as its default weights load it):")[1].split("outputs")[0]
    assert "B L D=384" in weights_part and "text/minilm-l6@1" in weights_part
    assert "fresh (create(), default config): condition float32[B L D=256] @ text/sora-byte-transformer@1" in text


def test_info_json_carries_the_default_weights_ports(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", DENOISER, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["inputs"]["condition"]["shape"] == "B L D=256"  # the default config's, as before
    assert data["default_weights_ports"]["inputs"]["condition"]["shape"] == "B L D=384"
    assert main(["info", "sora-seed:additive-attention", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["default_weights_ports"] is None


@pytest.mark.parametrize("name", [DENOISER, "sora-dit:latent-text-scorer"])
def test_recorded_ports_are_those_of_the_loaded_weights(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    loaded = registry.load(name)
    assert main(["info", name, "--json"]) == 0
    recorded = json.loads(capsys.readouterr().out)["default_weights_ports"]
    assert recorded["inputs"] == {k: v.to_dict() for k, v in loaded.input_ports().items()}
    assert recorded["outputs"] == {k: v.to_dict() for k, v in loaded.output_ports().items()}


def test_the_builder_records_them_only_when_they_differ() -> None:
    from sora_core.manifest_builder import describe_class

    denoiser = describe_class(registry.get_class(DENOISER))
    assert denoiser["default_weights_ports"]["inputs"]["condition"]["shape"] == "B L D=384"
    decoder = describe_class(registry.get_class("sora-vae:causal-vae-decoder"))  # its weights: its default config
    assert decoder["default_weights"] and "default_weights_ports" not in decoder
    assert "default_weights_ports" not in describe_class(registry.get_class("sora-seed:additive-attention"))


def test_a_malformed_record_is_a_clean_manifest_error(
    plugin_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    package = write_plugin(plugin_root, "odd-plugin", ["alpha"])
    manifest_path = package / "sora_manifest.json"
    manifest = json.loads(manifest_path.read_text())
    entry = manifest["particles"]["alpha"]
    entry["default_weights"] = "weights/alpha"
    entry["default_weights_ports"] = {"inputs": {"condition": {"dtype": "float32", "shape": 5}}}
    manifest_path.write_text(json.dumps(manifest))
    monkeypatch.setattr(registry, "default_registry", Registry())
    assert main(["info", "odd-plugin:alpha"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: manifest ") and "particle 'alpha', field 'default_weights_ports'" in err
    assert "  hint: regenerate it with `sora manifest DIST --write`" in err and "Traceback" not in err


def test_info_config_table_shows_the_default_weights_config(capsys: pytest.CaptureFixture[str]) -> None:
    text = _out_of(capsys, "info", DENOISER)
    config = text.split("\nconfig:\n")[1].splitlines()
    assert config[0].split() == ["FIELD", "TYPE", "DEFAULT", "DEFAULT", "WEIGHTS", "DESCRIPTION"]
    assert next(line for line in config if line.startswith("text_dim ")).split()[:4] == [
        "text_dim",
        "integer",
        "256",
        "384",
    ]
    plain = _out_of(capsys, "info", "sora-seed:additive-attention").split("\nconfig:\n")[1].splitlines()
    assert plain[0].split() == ["FIELD", "TYPE", "DEFAULT", "DESCRIPTION"]  # no default weights: no column


def _out_of(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out
