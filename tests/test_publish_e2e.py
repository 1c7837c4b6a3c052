"""End to end: scaffold a plugin, publish it to a registry on 127.0.0.1, install it into a fresh venv, list it there."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("sora_registry", reason="sora-registry is not installed (make setup installs registry/)")

REGISTRY = shutil.which("sora-registry", path=str(Path(sys.executable).parent)) or "sora-registry"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(*command: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(command), capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})}
    )
    if check:
        assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


def sora(*args: str, python: str = sys.executable, **kw) -> subprocess.CompletedProcess[str]:
    return run(python, "-m", "sora_core.cli.main", *args, **kw)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A live ``sora-registry serve`` on a free loopback port, and an upload token for user alice."""
    data = tmp_path / "registry-data"
    created = run(REGISTRY, "token", "create", "--data", str(data), "--user", "alice")
    token = created.stdout.strip().splitlines()[-1]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [REGISTRY, "serve", "--data", str(data), "--host", "127.0.0.1", "--port", str(port)],
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


def fresh_venv(path: Path) -> str:
    """A new virtual environment that sees this one's packages (torch, sora-core) as installed, and nothing else.

    A ``.pth`` line runs ``site.addsitedir`` on this environment's site-packages, so its own ``.pth``
    files (editable installs) work too; pip then counts those distributions as installed and
    resolves the plugin's dependencies without any index but the registry.
    """
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300)
    python = str(path / "bin" / "python")
    site_packages = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    parent = sysconfig.get_paths()["purelib"]
    Path(site_packages, "zz_parent_env.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    return python


def test_scaffold_publish_install_and_list(tmp_path: Path, registry: tuple[str, str]) -> None:
    url, token = registry
    project = tmp_path / "e2e-blur"
    sora("new", "e2e-blur", "--kind", "video_decoder", "--dir", str(project), "--author", "")
    published = sora("publish", str(project), "--registry", url, env={"SORA_REGISTRY_TOKEN": token})
    assert "uploaded e2e_blur-0.1.0-py3-none-any.whl" in published.stderr
    assert "uploaded e2e_blur-0.1.0.tar.gz" in published.stderr

    again = sora("publish", str(project), "--registry", url, env={"SORA_REGISTRY_TOKEN": token}, check=False)
    assert again.returncode == 1 and "HTTP 409" in again.stderr  # a published version is immutable

    found = json.loads(sora("search", "e2e", "--registry", url, "--json").stdout)
    assert [p["name"] for p in found["particles"]] == ["e2e-blur:e2e-blur"]
    assert found["particles"][0]["kind"] == "video_decoder"

    python = fresh_venv(tmp_path / "fresh")
    before = json.loads(sora("list", "--json", python=python, env={"SORA_CACHE_DIR": str(tmp_path / "c")}).stdout)
    assert not [p for p in before["particles"] if p["distribution"] == "e2e-blur"]
    installed = sora("install", "e2e-blur", "--registry", url, python=python)
    assert "installed e2e-blur" in installed.stderr
    shown = run(python, "-m", "pip", "show", "-f", "e2e-blur").stdout
    assert f"Location: {tmp_path / 'fresh'}" in shown  # installed into the fresh venv, not this one

    listed = json.loads(sora("list", "--json", python=python, env={"SORA_CACHE_DIR": str(tmp_path / "c")}).stdout)
    particle = next(p for p in listed["particles"] if p["distribution"] == "e2e-blur")
    assert particle["name"] == "e2e-blur:e2e-blur" and particle["kind"] == "video_decoder"
    assert listed["problems"] == []
    loaded = sora("load", "e2e-blur:e2e-blur", "--json", python=python, env={"SORA_CACHE_DIR": str(tmp_path / "c")})
    assert json.loads(loaded.stdout)["kind"] == "video_decoder"
