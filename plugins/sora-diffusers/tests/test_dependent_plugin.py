"""A plugin that builds on sora-diffusers passes `sora check` and publishes to a registry like any other.

The plugin, `wan-shift`, is what a third party would write: a scheduler subclassing sora-diffusers'
flow-matching Euler with another default shift, depending on `sora-diffusers` in its metadata.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("sora_registry", reason="sora-registry is not installed (make setup installs registry/)")

REGISTRY = shutil.which("sora-registry", path=str(Path(sys.executable).parent)) or "sora-registry"

SCHEDULER = '''"""``wan-shift``: flow-matching Euler steps with Wan's larger-video shift (5) by default."""

from typing import Any, ClassVar

from sora_diffusers.schedulers import FlowMatchEuler


class WanShift(FlowMatchEuler):
    """diffusers' FlowMatchEulerDiscreteScheduler with shift 5, as Wan suggests for 720p videos."""

    defaults: ClassVar[dict[str, Any]] = {"shift": 5.0}
    description = "flow-matching Euler steps with shift 5 (Wan at 720p)"
'''


def run(*command: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(command), capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})}, cwd=cwd
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


def sora(*args: str, **kw) -> subprocess.CompletedProcess[str]:
    return run(sys.executable, "-m", "sora_core.cli.main", *args, **kw)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """`sora new`'s scheduler project, turned into a sora-diffusers subclass, its manifest regenerated."""
    path = tmp_path / "wan-shift"
    sora("new", "wan-shift", "--kind", "scheduler", "--dir", str(path), "--author", "")
    (path / "wan_shift" / "scheduler.py").write_text(SCHEDULER, encoding="utf-8")
    for stale in (path / "tests").glob("test_scheduler.py"):
        stale.unlink()  # the scaffold's own example test is for its template code
    pyproject = path / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8").replace(
        '"sora-core>=0.1.0",', '"sora-core>=0.1.0",\n    "sora-diffusers>=0.1",'
    )
    pyproject.write_text(text.replace("scaf_x", "wan_shift"), encoding="utf-8")
    assert '"sora-diffusers>=0.1"' in pyproject.read_text(encoding="utf-8")
    # the manifest as `sora manifest wan-shift --write` writes it after an install: a stand-in dist-info
    site = tmp_path / "site"
    info = site / "wan_shift-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.4\nName: wan-shift\nVersion: 0.1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[sora.particles]\nwan-shift = wan_shift.scheduler:WanShift\n")
    env = {"PYTHONPATH": os.pathsep.join([str(site), str(path)]), "SORA_NO_CACHE": "1"}
    sora("manifest", "wan-shift", "--write", env=env, cwd=site)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def live_registry(tmp_path: Path) -> Iterator[tuple[str, str]]:
    data = tmp_path / "registry-data"
    token = run(REGISTRY, "token", "create", "--data", str(data), "--user", "alice").stdout.strip().splitlines()[-1]
    url = f"http://127.0.0.1:{free_port()}"
    port = url.rsplit(":", 1)[1]
    server = subprocess.Popen(
        [REGISTRY, "serve", "--data", str(data), "--host", "127.0.0.1", "--port", port],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    detail = server.stderr.read() if server.stderr else ""
                    raise RuntimeError(f"the registry did not start: {detail}") from None
                time.sleep(0.2)
        yield url, token
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_dependent_plugin_passes_check_and_publishes(project: Path, live_registry: tuple[str, str]) -> None:
    checked = sora("check", str(project))
    assert "wan-shift:wan-shift" in checked.stdout + checked.stderr
    url, token = live_registry
    published = sora("publish", str(project), "--registry", url, env={"SORA_REGISTRY_TOKEN": token})
    assert "uploaded wan_shift-0.1.0-py3-none-any.whl" in published.stderr
    found = sora("search", "wan-shift", "--registry", url, "--json").stdout
    assert '"scheduler"' in found and "wan-shift:wan-shift" in found
