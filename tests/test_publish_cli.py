"""sora check, publish, search and install: the client side of publishing, and its failure paths."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sora_core.errors import RegistryClientError
from sora_core.registry_client import registry_token, registry_url
from sora_core.synthetic import write_wheel

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "plugins" / "sora-seed"


def sora(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sora_core.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def no_registry_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No registry settings leak in from the machine: an empty config path and no environment variables."""
    config = tmp_path / "config.toml"
    monkeypatch.setenv("SORA_CONFIG", str(config))
    monkeypatch.delenv("SORA_REGISTRY_URL", raising=False)
    monkeypatch.delenv("SORA_REGISTRY_TOKEN", raising=False)
    return config


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_check_passes_the_seed_project_with_packaging_and_conformance() -> None:
    result = sora("check", str(SEED))
    assert result.returncode == 0, result.stderr
    assert "sora-seed 0.1.0: all" in result.stdout
    for expected in ("pickle-free", "sora-seed:lstm-text-encoder save-load", "sora-seed:additive-attention manifest"):
        assert expected in result.stdout
    assert "running bdist_wheel" not in result.stdout + result.stderr  # the build's chatter stays captured


def test_check_an_installed_distribution_by_name() -> None:
    result = sora("check", "sora-seed", "--json")
    assert result.returncode == 0, result.stderr
    assert '"ok": true' in result.stdout and "lstm-video-generator deterministic" in result.stdout


def test_check_refuses_a_wheel_with_a_pickle_naming_the_member(tmp_path: Path) -> None:
    wheel = write_wheel(tmp_path, "evil-plugin", ["enc"], extra_files={"evil_plugin/weights.pt": b"\x80\x04K\x01."})
    result = sora("check", str(wheel), "--no-conformance")
    assert result.returncode == 1
    assert "evil_plugin/weights.pt is a pickle-format file" in result.stdout
    assert "checks failed" in result.stderr and "Traceback" not in result.stderr


def test_check_runs_the_conformance_kit_on_the_wheel_in_a_fresh_interpreter(tmp_path: Path) -> None:
    result = sora("check", str(write_wheel(tmp_path, "synthetic-ok", ["enc"])))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "synthetic-ok:enc forward-shapes" in result.stdout


def test_check_reports_a_missing_target() -> None:
    result = sora("check", "no-such-distribution-xyz")
    assert result.returncode == 1
    assert "distribution 'no-such-distribution-xyz' is not installed" in result.stderr
    assert "Traceback" not in result.stderr


def test_publish_needs_a_registry_and_a_token_before_building(no_registry_config: Path) -> None:
    env = {"SORA_CONFIG": str(no_registry_config)}
    result = sora("publish", str(SEED), env=env)
    assert result.returncode == 1 and "no registry given" in result.stderr and "--registry" in result.stderr
    result = sora("publish", str(SEED), "--registry", "http://127.0.0.1:9", env=env)
    assert result.returncode == 1
    assert "no upload token for registry http://127.0.0.1:9" in result.stderr and "SORA_REGISTRY_TOKEN" in result.stderr
    assert "built" not in result.stderr


def test_publish_dry_run_builds_and_checks_without_a_registry(tmp_path: Path, no_registry_config: Path) -> None:
    result = sora("publish", str(SEED), "--dry-run", "--dist-dir", str(tmp_path), "--no-sdist")
    assert result.returncode == 0, result.stderr
    assert "dry run: nothing uploaded" in result.stderr
    assert [p.name for p in tmp_path.glob("*.whl")] == ["sora_seed-0.1.0-py3-none-any.whl"]


def test_tokens_come_from_the_environment_or_an_owner_only_config(no_registry_config: Path, monkeypatch) -> None:
    no_registry_config.write_text(
        'default-registry = "http://reg.test:8417/"\n[registries."http://reg.test:8417"]\ntoken = "from-file"\n'
    )
    no_registry_config.chmod(0o600)
    url = registry_url()
    assert url == "http://reg.test:8417"
    assert registry_token(url) == "from-file"
    monkeypatch.setenv("SORA_REGISTRY_TOKEN", "from-env")
    assert registry_token(url) == "from-env"
    monkeypatch.delenv("SORA_REGISTRY_TOKEN")
    no_registry_config.chmod(0o644)
    with pytest.raises(RegistryClientError, match="other users can read it"):
        registry_token(url)
    with pytest.raises(RegistryClientError, match="not an http"):
        registry_url("ftp://example.org")


def test_search_reports_an_unreachable_registry_in_one_line(no_registry_config: Path) -> None:
    result = sora("search", "blur", "--registry", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "cannot reach the registry" in result.stderr and "sora-registry serve" in result.stderr
    assert "Traceback" not in result.stderr


def test_install_pins_the_installed_torch_and_maps_particle_names_to_distributions(no_registry_config: Path) -> None:
    result = sora("install", "my-blur:blur", "--registry", "http://127.0.0.1:8417", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "--index-url http://127.0.0.1:8417/simple/" in result.stdout
    assert result.stdout.splitlines()[0].endswith(" my-blur")
    import torch

    assert f"torch=={torch.__version__}" in result.stdout
    result = sora("install", "not a name!", "--registry", "http://127.0.0.1:8417", "--dry-run")
    assert result.returncode == 1 and "is not a distribution name" in result.stderr
